import { setFlagsFromString } from 'node:v8';

// Imported by main.ts before anything else, so before undici compiles its WebAssembly HTTP
// parser. By default V8 recompiles the parser's hot functions with TurboFan during the first
// big download: a transient ~35 MB of RSS (VmHWM after a first 16 MiB fill: 181 MB by default,
// 145 MB with this). The baseline (Liftoff) code costs no more CPU for a fill (measured).
setFlagsFromString('--liftoff-only');
// A miss runs code that is too rarely used to get optimised (routing, planning, the first
// upstream request); baseline machine code instead of the bytecode interpreter took about
// 1 ms off a miss's time to first byte here (docs/performance-notes.md).
setFlagsFromString('--always-sparkplug');
