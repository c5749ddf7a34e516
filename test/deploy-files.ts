import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parseAllDocuments } from 'yaml';

/** Readers of the files under deploy/, for test/deploy.e2e-spec.ts. */

export const DEPLOY = 'deploy';

export function read(path: string): string {
  return readFileSync(join(DEPLOY, path), 'utf8');
}

/** Paths under deploy/ (relative to it) whose names end with one of `suffixes`. */
export function deployFiles(...suffixes: string[]): string[] {
  const found: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(join(DEPLOY, dir), { withFileTypes: true })) {
      const path = dir ? `${dir}/${entry.name}` : entry.name;
      if (entry.isDirectory()) walk(path);
      else if (suffixes.some((suffix) => entry.name.endsWith(suffix))) found.push(path);
    }
  };
  walk('');
  return found.sort();
}

/** Every document of a YAML file; throws with the file name and the parser's errors. */
export function yamlDocuments(path: string): unknown[] {
  return parseAllDocuments(read(path)).map((document) => {
    if (document.errors.length > 0) {
      throw new Error(`${path}: ${document.errors.map((error) => error.message).join('; ')}`);
    }
    return document.toJS();
  });
}

// biome-ignore lint/suspicious/noExplicitAny: manifests are checked field by field by the tests
export type Manifest = Record<string, any>;

export function manifest(path: string, kind: string, name?: string): Manifest {
  const found = (yamlDocuments(path) as Manifest[]).find(
    (doc) => doc?.kind === kind && (name === undefined || doc.metadata?.name === name),
  );
  if (!found) throw new Error(`${path} has no ${kind}${name ? ` ${name}` : ''}`);
  return found;
}

/** The environment (leading NAME=value words), node flags and script of `npm start`. */
export function startCommand(): { env: Record<string, string>; flags: string[]; script: string } {
  const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { scripts: { start: string } };
  const words = pkg.scripts.start.trim().split(/\s+/);
  const env: Record<string, string> = {};
  while (/^[A-Z_][A-Z0-9_]*=/.test(words[0] ?? '')) {
    const [name, value] = (words.shift() as string).split(/=(.*)/s);
    env[name] = value;
  }
  const [node, ...rest] = words;
  if (node !== 'node') throw new Error(`npm start does not run node: ${pkg.scripts.start}`);
  return { env, flags: rest.slice(0, -1), script: rest[rest.length - 1] };
}

/** A systemd unit's directives: name → every value, in order. */
export function systemdDirectives(text: string): Map<string, string[]> {
  const directives = new Map<string, string[]>();
  for (const line of text.split('\n')) {
    const match = /^([A-Za-z]+)=(.*)$/.exec(line.trim());
    if (!match) continue;
    directives.set(match[1], [...(directives.get(match[1]) ?? []), match[2]]);
  }
  return directives;
}

/** `NAME=value` lines of an environment file (systemd's EnvironmentFile, .env). */
export function envFile(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const match = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line.trim());
    if (match) env[match[1]] = match[2].trim();
  }
  return env;
}

/**
 * What OpenRC's openrc-run sees: the conf.d file sourced, then the init script (its top level
 * only sets variables and defines functions), in a plain POSIX shell. Returns the service
 * variables and the exported PORTCACHE_* and MALLOC_* environment the daemon inherits.
 */
export async function openrcService(): Promise<{
  vars: Record<string, string>;
  env: Record<string, string>;
}> {
  const names = ['supervisor', 'command', 'command_args', 'command_user', 'retry', 'output_log'];
  const script = [
    `. ./${DEPLOY}/openrc/portcache.confd`,
    `. ./${DEPLOY}/openrc/portcache.initd`,
    ...names.map((name) => `printf 'var %s=%s\\n' ${name} "$${name}"`),
    `env | grep -E '^(PORTCACHE|MALLOC)_' | sed 's/^/env /'`,
    `type depend >/dev/null && type start_pre >/dev/null && echo functions`,
  ].join('\n');
  const { stdout } = await promisify(execFile)('sh', ['-ec', script], { env: { PATH: process.env.PATH } });
  const vars: Record<string, string> = {};
  const env: Record<string, string> = {};
  for (const line of stdout.split('\n')) {
    const match = /^(var|env) ([^=]+)=(.*)$/.exec(line);
    if (match) (match[1] === 'var' ? vars : env)[match[2]] = match[3];
  }
  if (!stdout.includes('functions')) throw new Error('the init script defines no depend() and start_pre()');
  return { vars, env };
}

/** The Dockerfile's instructions, stage by stage (continuation lines joined). */
export function dockerfileStages(text: string): Array<Array<{ op: string; args: string }>> {
  const stages: Array<Array<{ op: string; args: string }>> = [];
  const joined = text.replace(/\\\n/g, ' ');
  for (const line of joined.split('\n')) {
    const match = /^\s*([A-Z]+)\s+(.*)$/.exec(line);
    if (!match || line.trim().startsWith('#')) continue;
    if (match[1] === 'FROM') stages.push([]);
    stages[stages.length - 1]?.push({ op: match[1], args: match[2].trim() });
  }
  return stages;
}

/** Metric names a PromQL expression (or a dashboard's text) refers to. */
export function metricNames(text: string): Set<string> {
  return new Set(text.match(/\bportcache_[a-z0-9_]+\b/g) ?? []);
}

/**
 * Names a Prometheus scrape of `exposition` would have: every sample name, every declared
 * counter or gauge (a labelled one has no sample until a label set is used), and the _bucket,
 * _sum and _count series of declared histograms (_sum and _count of summaries).
 */
export function exposedNames(exposition: string): Set<string> {
  const names = new Set<string>();
  for (const line of exposition.split('\n')) {
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (type) {
      const [, name, kind] = type;
      if (kind === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) names.add(name + suffix);
      else if (kind === 'summary') for (const suffix of ['', '_sum', '_count']) names.add(name + suffix);
      else names.add(name);
      continue;
    }
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)[{ ]/.exec(line);
    if (sample) names.add(sample[1]);
  }
  return names;
}
