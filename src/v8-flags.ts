import { setFlagsFromString } from 'node:v8';

// Imported by main.ts before anything else, so before undici compiles its WebAssembly HTTP
// parser. By default V8 recompiles the parser's hot functions with TurboFan during the first
// big download: a transient ~35 MB of RSS (VmHWM after a first 16 MiB fill: 181 MB by default,
// 145 MB with this). The baseline (Liftoff) code costs no more CPU for a fill (measured).
setFlagsFromString('--liftoff-only');

/**
 * From now on, functions compile straight to baseline machine code. Called once the server
 * listens: a miss runs code too rarely used to be optimised (routing, planning, the first
 * upstream request), and compiling it to baseline code instead of running bytecode took about
 * 1 ms off a miss's time to first byte here; from the start it would also compile everything
 * Nest runs once at startup (about 10 MB more RSS).
 */
export function compileBaselineFromNowOn(): void {
  setFlagsFromString('--always-sparkplug');
}
