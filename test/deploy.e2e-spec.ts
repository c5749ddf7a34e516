import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PortcacheConfig } from '../src/config/portcache-config.js';
import { DEFAULTS } from '../src/config/portcache-env.js';
import { FIXTURE_REPOS } from '../src/repository/testing/fixture-repos.js';
import {
  DEPLOY,
  deployFiles,
  dockerfileStages,
  envFile,
  exposedNames,
  type Manifest,
  manifest,
  metricNames,
  openrcService,
  read,
  startCommand,
  systemdDirectives,
  yamlDocuments,
} from './deploy-files.js';
import { fetchDistfile } from './support/http-client.js';
import { type RunningPortcache, startPortcache } from './support/portcache.js';
import { sleep, UpstreamServer } from './support/upstream-server.js';
import { waitForCommit } from './support/wait.js';

const DEFAULT_PORT = Number(DEFAULTS.PORTCACHE_PORT);
/** After the shutdown grace, closing (fills ended, records flushed) may take this long (src/graceful-shutdown.ts). */
const CLOSE_BOUND_MS = 15_000;
const README = readFileSync('README.md', 'utf8');
const K8S = 'kubernetes';
const { env: START_ENV, flags: START_FLAGS, script: START_SCRIPT } = startCommand();
/** Only portcache's own variables are configuration (README's table). */
const configOnly = (env: Record<string, string>) =>
  Object.fromEntries(Object.entries(env).filter(([name]) => name.startsWith('PORTCACHE_')));

function container(deployment: Manifest): Manifest {
  const [first] = deployment.spec.template.spec.containers;
  return first;
}

/** A container port, by number or by name, as a number. */
function portNumber(ports: Manifest[], port: number | string): number | undefined {
  return typeof port === 'number' ? port : ports.find((p) => p.name === port)?.containerPort;
}

/** A variable the README's configuration table documents. */
function documented(name: string): boolean {
  return README.includes(`| \`${name}\``);
}

/** The JSON array of an exec-form instruction (CMD, VOLUME). */
function execForm(args: string): string[] {
  return JSON.parse(args) as string[];
}

describe('deploy/: manifests, units and examples match the app', () => {
  const body = randomBytes(200_000);
  const name = 'deploy-check-1.0.tar.gz';
  let upstream: UpstreamServer;
  let portcache: RunningPortcache;

  beforeAll(async () => {
    upstream = (await UpstreamServer.start('hashed')).add(name, body);
    portcache = await startPortcache({
      PORTCACHE_MIRRORS: upstream.url,
      PORTCACHE_REPOS: FIXTURE_REPOS.gentoo,
      // portcache_cache_limit_bytes exists only with a limit.
      PORTCACHE_MAX_SIZE: '1G',
    });
  });

  afterAll(async () => {
    await portcache?.close();
    await upstream?.close();
  });

  it('parses every YAML file', () => {
    const files = deployFiles('.yaml', '.yml');
    expect(files.length).toBeGreaterThanOrEqual(10);
    for (const file of files) expect(yamlDocuments(file).length, file).toBeGreaterThan(0);
  });

  it('lists every manifest in the kustomizations', () => {
    for (const dir of [K8S, `${K8S}/monitoring`]) {
      const listed = manifest(`${dir}/kustomization.yaml`, 'Kustomization').resources as string[];
      const present = deployFiles('.yaml')
        .filter((file) => file.startsWith(`${dir}/`) && !file.slice(dir.length + 1).includes('/'))
        .map((file) => file.slice(dir.length + 1))
        .filter((file) => file !== 'kustomization.yaml');
      expect(listed.sort(), dir).toEqual(present);
    }
  });

  it("probes the app's health routes on its default port, and the Service and ServiceMonitor reach it", async () => {
    const deployment = manifest(`${K8S}/deployment.yaml`, 'Deployment', 'portcache');
    const service = manifest(`${K8S}/service.yaml`, 'Service', 'portcache');
    const monitor = manifest(`${K8S}/monitoring/servicemonitor.yaml`, 'ServiceMonitor');
    const app = container(deployment);
    const ports = app.ports as Manifest[];
    expect(ports.map((p) => p.containerPort)).toEqual([DEFAULT_PORT]);

    const probes = { startup: app.startupProbe, liveness: app.livenessProbe, readiness: app.readinessProbe };
    expect(probes.liveness.httpGet.path).toBe('/health/live');
    expect(probes.readiness.httpGet.path).toBe('/health/ready');
    for (const [kind, probe] of Object.entries(probes)) {
      expect(portNumber(ports, probe.httpGet.port), kind).toBe(DEFAULT_PORT);
      const answer = await request(`${portcache.url}${probe.httpGet.path}`);
      await answer.body.dump();
      expect(answer.statusCode, `${kind} probe ${probe.httpGet.path}`).toBe(200);
    }

    const podLabels = deployment.spec.template.metadata.labels;
    expect(deployment.spec.selector.matchLabels).toEqual(podLabels);
    expect(podLabels).toMatchObject(service.spec.selector);
    const [servicePort] = service.spec.ports as Manifest[];
    expect(portNumber(ports, servicePort.targetPort), 'Service targetPort').toBe(DEFAULT_PORT);

    expect(service.metadata.labels).toMatchObject(monitor.spec.selector.matchLabels);
    const [endpoint] = monitor.spec.endpoints as Manifest[];
    expect((service.spec.ports as Manifest[]).map((p) => p.name)).toContain(endpoint.port);
    expect(endpoint.path).toBe('/metrics');
    const metrics = await request(`${portcache.url}${endpoint.path}`);
    await metrics.body.dump();
    expect(metrics.statusCode).toBe(200);
  });

  it('gives the Deployment a valid configuration, its volumes, resources and a grace period above the shutdown grace', () => {
    const deployment = manifest(`${K8S}/deployment.yaml`, 'Deployment', 'portcache');
    const configMap = manifest(`${K8S}/configmap.yaml`, 'ConfigMap');
    const claims = (yamlDocuments(`${K8S}/pvc.yaml`) as Manifest[]).map((doc) => doc.metadata.name);
    const app = container(deployment);
    expect(app.envFrom).toEqual([{ configMapRef: { name: configMap.metadata.name } }]);

    const env: Record<string, string> = { ...configMap.data };
    for (const variable of app.env as Manifest[]) {
      if (variable.value !== undefined) env[variable.name] = variable.value;
      else expect(variable.valueFrom.secretKeyRef.optional, variable.name).toBe(true);
    }
    for (const variable of [...Object.keys(env), ...(app.env as Manifest[]).map((v) => v.name)]) {
      expect(documented(variable), `${variable} is in the README's configuration table`).toBe(true);
    }
    const config = PortcacheConfig.fromEnv(env);
    expect(config.syncRepos.length, 'PORTCACHE_SYNC_REPOS gives the resolver data').toBeGreaterThan(0);
    expect(config.port).toBe(DEFAULT_PORT);
    expect(deployment.spec.template.spec.terminationGracePeriodSeconds * 1000).toBeGreaterThan(
      config.shutdownGraceMs + CLOSE_BOUND_MS,
    );

    const volumes = new Map(
      (deployment.spec.template.spec.volumes as Manifest[]).map((v) => [
        v.name,
        v.persistentVolumeClaim?.claimName,
      ]),
    );
    for (const dir of [config.cacheDir, config.dataDir]) {
      const mount = (app.volumeMounts as Manifest[]).find((m) => dir === m.mountPath);
      expect(mount, `${dir} is a mounted volume`).toBeDefined();
      expect(claims, `${dir} is on a PersistentVolumeClaim of pvc.yaml`).toContain(volumes.get(mount?.name));
    }
    for (const kind of ['requests', 'limits']) {
      expect(app.resources[kind].cpu, kind).toBeDefined();
      expect(app.resources[kind].memory, kind).toBeDefined();
    }
    expect(deployment.spec.template.spec.securityContext.runAsNonRoot).toBe(true);
  });

  it('ships the same alerts for the Prometheus Operator and a plain Prometheus', () => {
    const rule = manifest(`${K8S}/monitoring/prometheusrule.yaml`, 'PrometheusRule');
    const [plain] = yamlDocuments('prometheus/portcache-alerts.yml') as Manifest[];
    expect(rule.spec.groups).toEqual(plain.groups);
    const rules = (plain.groups as Manifest[]).flatMap((group) => group.rules as Manifest[]);
    expect(rules.map((r) => r.alert)).toEqual(
      expect.arrayContaining([
        'PortcacheLowHitRatio',
        'PortcacheAllMirrorsDown',
        'PortcacheDiskNearlyFull',
        'PortcacheVerificationFailures',
        'PortcacheIndexStale',
      ]),
    );
    for (const r of rules) {
      expect(r.expr, r.alert).toMatch(/\S/);
      expect(r.labels?.severity, r.alert).toMatch(/^(critical|warning|info)$/);
      expect(r.annotations?.summary, r.alert).toMatch(/\S/);
    }
  });

  it('builds a non-root image that runs the flags of npm start and checks the liveness route', () => {
    const stages = dockerfileStages(read('Dockerfile'));
    expect(stages.length, 'multi-stage').toBeGreaterThanOrEqual(2);
    const runtime = stages[stages.length - 1];
    const last = (op: string) => runtime.filter((i) => i.op === op).pop()?.args ?? '';

    expect(execForm(last('CMD'))).toEqual(['node', ...START_FLAGS, START_SCRIPT]);
    expect(last('USER')).toMatch(/^[0-9]+(:[0-9]+)?$/);
    expect(last('USER')).not.toMatch(/^0(:|$)/);
    expect(last('EXPOSE')).toBe(String(DEFAULT_PORT));
    expect(last('HEALTHCHECK')).toContain('/health/live');
    expect(last('HEALTHCHECK')).toContain(`||${DEFAULT_PORT})`);
    expect(runtime.some((i) => i.op === 'RUN' && /apt-get install .*\bgit\b/.test(i.args))).toBe(true);

    const env = Object.fromEntries(
      runtime
        .filter((i) => i.op === 'ENV')
        .flatMap((i) => [...i.args.matchAll(/(\w+)=(\S+)/g)].map((m) => [m[1], m[2]])),
    );
    expect(env).toMatchObject(START_ENV);
    const config = PortcacheConfig.fromEnv(configOnly(env));
    expect(execForm(last('VOLUME')).sort()).toEqual([config.cacheDir, config.dataDir].sort());
  });

  it('starts node with the flags of npm start from systemd, hardened, and stops it after the shutdown grace', () => {
    const unit = systemdDirectives(read('systemd/portcache.service'));
    const one = (key: string) => unit.get(key)?.at(-1);
    const [node, ...args] = (one('ExecStart') ?? '').split(/\s+/);
    expect(node).toBe('/usr/bin/node');
    expect(args.slice(0, -1)).toEqual(START_FLAGS);
    expect(args.at(-1)).toMatch(new RegExp(`/${START_SCRIPT}$`));

    const env = {
      ...Object.fromEntries((unit.get('Environment') ?? []).map((e) => e.split(/=(.*)/s).slice(0, 2))),
      ...envFile(read('systemd/portcache.env')),
    };
    expect(env).toMatchObject(START_ENV);
    for (const variable of Object.keys(configOnly(env))) expect(documented(variable), variable).toBe(true);
    const config = PortcacheConfig.fromEnv(configOnly(env));
    expect(config.cacheDir).toBe(`/var/cache/${one('CacheDirectory')}`);
    expect(config.dataDir).toBe(`/var/lib/${one('StateDirectory')}`);
    expect(Number.parseInt(one('TimeoutStopSec') ?? '', 10) * 1000).toBeGreaterThan(
      config.shutdownGraceMs + CLOSE_BOUND_MS,
    );

    expect(unit.get('SystemCallFilter')).toContain('@system-service');
    expect(one('CapabilityBoundingSet')).toBe('');
    expect(one('RestrictAddressFamilies')).toMatch(/AF_INET6/);
    expect(one('MemoryMax')).toMatch(/^\d+[KMG]$/);
    for (const [key, value] of Object.entries({
      NoNewPrivileges: 'yes',
      ProtectSystem: 'strict',
      PrivateTmp: 'yes',
      ProtectHome: 'yes',
      DynamicUser: 'yes',
    })) {
      expect(one(key), key).toBe(value);
    }
  });

  it('starts node with the flags of npm start from OpenRC, supervised, and stops it after the shutdown grace', async () => {
    const { vars, env } = await openrcService();
    expect(vars.supervisor).toBe('supervise-daemon');
    expect(vars.command).toBe('/usr/bin/node');
    const args = vars.command_args.split(/\s+/);
    expect(args.slice(0, -1)).toEqual(START_FLAGS);
    expect(args.at(-1)).toMatch(new RegExp(`/${START_SCRIPT}$`));
    expect(vars.command_user).toBe('portcache:portcache');
    expect(vars.output_log).toMatch(/^\/var\/log\//);
    expect(read('openrc/portcache.initd')).toMatch(/depend\(\) \{[^}]*need net/);

    expect(env).toMatchObject(START_ENV);
    for (const variable of Object.keys(configOnly(env))) expect(documented(variable), variable).toBe(true);
    const config = PortcacheConfig.fromEnv(configOnly(env));
    expect(config.cacheDir).toBe('/var/cache/portcache');
    const stopSeconds = Number(/^TERM\/(\d+)\//.exec(vars.retry)?.[1]);
    expect(stopSeconds * 1000).toBeGreaterThan(config.shutdownGraceMs + CLOSE_BOUND_MS);
  });

  it("streams through nginx to portcache's default port, Range included, without caching", () => {
    const conf = read('nginx/portcache.conf').replace(/#.*$/gm, '');
    expect(conf).toMatch(new RegExp(`server 127\\.0\\.0\\.1:${DEFAULT_PORT};`));
    for (const directive of [
      'proxy_buffering off;',
      'proxy_request_buffering off;',
      'proxy_set_header Range $http_range;',
      'client_max_body_size 0;',
      'listen 443 ssl;',
    ]) {
      expect(conf).toContain(directive);
    }
    expect(conf.match(/proxy_cache\s+\S+;/g)).toEqual(['proxy_cache off;']);
  });

  it('gives the Grafana dashboard unique panels, each querying the chosen data source', () => {
    const dashboard = JSON.parse(read('grafana/portcache.json')) as Manifest;
    const panels = dashboard.panels as Manifest[];
    const ids = panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    const queries = panels.filter((p) => p.type !== 'row');
    expect(queries.length).toBeGreaterThan(10);
    for (const panel of queries) {
      // biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's variable syntax
      expect(panel.datasource?.uid, panel.title).toBe('${datasource}');
      expect(
        (panel.targets as Manifest[]).every((t) => /portcache_/.test(t.expr)),
        panel.title,
      ).toBe(true);
    }
  });

  it('uses only metrics that /metrics has after a miss and a hit, in the alerts and the dashboard', async () => {
    const miss = await fetchDistfile(`${portcache.url}/distfiles/${name}`);
    expect(miss.body.equals(body)).toBe(true);
    await waitForCommit(portcache, name);
    const hit = await fetchDistfile(`${portcache.url}/distfiles/${name}`);
    expect(hit.body.equals(body)).toBe(true);
    await indexBuilt(portcache);

    const exposition = await (await request(`${portcache.url}/metrics`)).body.text();
    const exposed = exposedNames(exposition);
    expect(exposition).toMatch(/^portcache_distfile_requests_total\{[^}]*result="hit"/m);
    expect(exposition).toMatch(/^portcache_distfile_requests_total\{[^}]*result="miss"/m);

    const [plain] = yamlDocuments('prometheus/portcache-alerts.yml') as Manifest[];
    const used = new Map<string, string[]>();
    const note = (where: string, text: string) => {
      for (const metric of metricNames(text)) used.set(metric, [...(used.get(metric) ?? []), where]);
    };
    for (const group of plain.groups as Manifest[]) {
      for (const r of group.rules as Manifest[]) note(`alert ${r.alert}`, r.expr);
    }
    note('the Grafana dashboard', read('grafana/portcache.json'));
    expect(used.size).toBeGreaterThan(20);

    const missing = [...used]
      .filter(([metric]) => !exposed.has(metric))
      .map(([metric, where]) => `${metric} (${[...new Set(where)].join(', ')})`);
    expect(missing, `metrics used by ${DEPLOY}/ but not on /metrics`).toEqual([]);
  });
});

/** Waits (bounded) until /health/ready says the repository index is built. */
async function indexBuilt(portcache: RunningPortcache, timeoutMs = 10_000): Promise<void> {
  for (const deadline = Date.now() + timeoutMs; Date.now() < deadline; await sleep(50)) {
    const answer = await request(`${portcache.url}/health/ready`);
    const ready = (await answer.body.json()) as { details?: { index?: { built?: boolean } } };
    if (ready.details?.index?.built) return;
  }
  throw new Error(`the index was not built within ${timeoutMs} ms`);
}
