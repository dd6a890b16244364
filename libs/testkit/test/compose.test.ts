import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';

/**
 * docker-compose.yml and the files it mounts are checked here, without a Docker engine: what the
 * file promises (ARCHITECTURE.md, section 9) is read from the file itself. The services are the
 * ones built from our Dockerfile, found by their `SERVICE` build argument.
 */

const root = fileURLToPath(new URL('../../../', import.meta.url));

/** The subset of a zod object schema this test uses; testkit does not depend on zod. */
interface ConfigSchema {
  shape: Record<string, unknown>;
  safeParse(input: unknown): {
    success: boolean;
    error?: { issues: { path: PropertyKey[]; message: string }[] };
  };
}

interface ComposeService {
  build?: string | { args?: Record<string, unknown> | string[] };
  environment?: Record<string, unknown> | string[];
  healthcheck?: { test?: unknown; disable?: boolean; start_period?: string };
  depends_on?: string[] | Record<string, { condition?: string }>;
  restart?: string;
}

/** A service built from the Dockerfile: the compose service name and the package under services/. */
interface BuiltService {
  composeName: string;
  packageName: string;
  environment: Record<string, string>;
}

function readYaml(relativePath: string): unknown {
  // Compose files use YAML 1.1 merge keys (`<<: *service`); yaml 2 reads them only when asked.
  // Each service's `<<: *service` is an alias expansion, and yaml's default bound (100, a guard
  // against alias bombs in untrusted input) is below what our own compose file legitimately uses.
  return parse(readFileSync(join(root, relativePath), 'utf8'), { merge: true, maxAliasCount: 1_000 });
}

/** Compose accepts both `{ KEY: value }` and `["KEY=value"]`; values become strings either way. */
function toStringMap(entries: Record<string, unknown> | string[] | undefined): Record<string, string> {
  if (entries === undefined) return {};
  if (Array.isArray(entries)) {
    const map: Record<string, string> = {};
    for (const entry of entries) {
      const separator = entry.indexOf('=');
      if (separator === -1) map[entry] = '';
      else map[entry.slice(0, separator)] = entry.slice(separator + 1);
    }
    return map;
  }
  const map: Record<string, string> = {};
  for (const [key, value] of Object.entries(entries)) map[key] = value === null ? '' : String(value);
  return map;
}

/** A one-shot job (k6, a topic setup) runs once and exits; it says so with `restart: "no"`. */
function isOneShot(service: ComposeService): boolean {
  return service.restart === 'no';
}

function scrapeTargets(): string[] {
  const config = readYaml('infra/prometheus/prometheus.yml') as {
    scrape_configs?: { static_configs?: { targets?: string[] }[] }[];
  };
  const targets: string[] = [];
  for (const job of config.scrape_configs ?? []) {
    for (const staticConfig of job.static_configs ?? []) targets.push(...(staticConfig.targets ?? []));
  }
  return targets;
}

describe('docker-compose.yml', () => {
  let services: Record<string, ComposeService>;
  let built: BuiltService[];

  beforeAll(() => {
    const compose = readYaml('docker-compose.yml') as { services?: Record<string, ComposeService> };
    services = compose.services ?? {};
    built = [];
    for (const [composeName, service] of Object.entries(services)) {
      if (typeof service.build !== 'object') continue;
      const packageName = toStringMap(service.build.args).SERVICE;
      if (packageName === undefined) continue;
      built.push({ composeName, packageName, environment: toStringMap(service.environment) });
    }
  });

  it('builds at least one of our services from the Dockerfile, each from a folder under services/', () => {
    // Proves the checks below are not vacuous and every SERVICE build argument names a real package.
    expect(built.length).toBeGreaterThan(0);
    const missing = built.filter(
      ({ packageName }) => !existsSync(join(root, 'services', packageName, 'package.json')),
    );
    expect(missing).toEqual([]);
  });

  it("sets only environment variables that the service's config schema declares", async () => {
    // Proves no compose variable is silently ignored (loadConfig reads only the schema's keys).
    const unknown: string[] = [];
    for (const service of built) {
      const schema = await loadConfigSchema(service.packageName);
      for (const key of Object.keys(service.environment)) {
        if (!(key in schema.shape)) unknown.push(`${service.composeName}: ${key}`);
      }
    }
    expect(unknown).toEqual([]);
  });

  it('gives every built service an environment its config schema accepts', async () => {
    // Proves each container would get past loadConfig at start: the literal values parse.
    const rejected: string[] = [];
    for (const service of built) {
      const schema = await loadConfigSchema(service.packageName);
      const result = schema.safeParse(service.environment);
      for (const issue of result.error?.issues ?? []) {
        rejected.push(`${service.composeName}: ${issue.path.map(String).join('.')}: ${issue.message}`);
      }
    }
    expect(rejected).toEqual([]);
  });

  it('sets PORT on every built service, because its healthcheck and scrape target use it', () => {
    // Proves the healthcheck probes the port the service listens on: it reads process.env.PORT.
    const withoutPort = built
      .filter((service) => service.environment.PORT === undefined)
      .map((s) => s.composeName);
    expect(withoutPort).toEqual([]);
  });

  it('gives every long-running container a healthcheck with a start_period', () => {
    // Proves any container can be waited on as healthy, and slow starters get time to boot.
    const problems: string[] = [];
    for (const [name, service] of Object.entries(services)) {
      if (isOneShot(service)) continue;
      const healthcheck = service.healthcheck;
      if (healthcheck === undefined || healthcheck.disable === true || healthcheck.test === undefined) {
        problems.push(`${name}: no healthcheck`);
      } else if (healthcheck.start_period === undefined) {
        problems.push(`${name}: healthcheck without start_period`);
      }
    }
    expect(problems).toEqual([]);
  });

  it('makes every depends_on wait for a healthy service, or for a one-shot job to finish', () => {
    // Proves no container starts against a backend that runs but does not answer yet.
    const problems: string[] = [];
    for (const [name, service] of Object.entries(services)) {
      const dependsOn = service.depends_on;
      if (dependsOn === undefined) continue;
      if (Array.isArray(dependsOn)) {
        problems.push(`${name}: short-form depends_on ${dependsOn.join(', ')}`);
        continue;
      }
      for (const [dependency, { condition }] of Object.entries(dependsOn)) {
        const target = services[dependency];
        if (target === undefined) {
          problems.push(`${name}: depends on ${dependency}, which is not a service`);
          continue;
        }
        const allowed = isOneShot(target)
          ? ['service_completed_successfully', 'service_started']
          : ['service_healthy'];
        if (condition === undefined || !allowed.includes(condition)) {
          problems.push(
            `${name}: waits for ${dependency} with ${condition ?? 'no condition'}, expected ${allowed.join(' or ')}`,
          );
        }
      }
    }
    expect(problems).toEqual([]);
  });

  it('has Prometheus scrape only compose services, at the port each one listens on', () => {
    // Proves every scrape target resolves on the compose network and hits the service's PORT.
    const problems: string[] = [];
    for (const target of scrapeTargets()) {
      const [host, port] = target.split(':');
      const service = host === undefined ? undefined : services[host];
      if (service === undefined) {
        problems.push(`${target}: ${host} is not a compose service`);
        continue;
      }
      const builtService = built.find((candidate) => candidate.composeName === host);
      if (builtService !== undefined && builtService.environment.PORT !== port) {
        problems.push(`${target}: ${host} listens on ${builtService.environment.PORT}`);
      }
    }
    expect(problems).toEqual([]);
  });

  it('has Prometheus scrape every container built from the Dockerfile', () => {
    // Proves a new replica or service cannot be added to compose and left out of the metrics.
    const targetHosts = new Set(scrapeTargets().map((target) => target.split(':')[0]));
    const unscraped = built
      .filter((service) => !targetHosts.has(service.composeName))
      .map((s) => s.composeName);
    expect(unscraped).toEqual([]);
  });

  it('provisions a Grafana dashboard for every built service, on the provisioned datasource', () => {
    // Proves each service has a dashboard whose panels all query the provisioned datasource's uid.
    const datasources = readYaml('infra/grafana/provisioning/datasources/prometheus.yml') as {
      datasources?: { uid?: string }[];
    };
    const uids = new Set((datasources.datasources ?? []).map((datasource) => datasource.uid));
    const problems: string[] = [];
    for (const packageName of new Set(built.map((service) => service.packageName))) {
      const path = join(root, 'infra/grafana/dashboards', `${packageName}.json`);
      if (!existsSync(path)) {
        problems.push(`${packageName}: no dashboard`);
        continue;
      }
      const dashboard = JSON.parse(readFileSync(path, 'utf8')) as {
        panels?: { title?: string; datasource?: { uid?: string } }[];
      };
      for (const panel of dashboard.panels ?? []) {
        if (!uids.has(panel.datasource?.uid))
          problems.push(`${packageName}: panel "${panel.title}" has no provisioned datasource`);
      }
    }
    expect(problems).toEqual([]);
  });

  it('ships the migrations of the service and of every workspace package it uses in the image', () => {
    // Proves each migrations/ folder reaches the image, since `pnpm deploy` copies only "files".
    const workspaceDirs = workspacePackageDirs();
    const toVisit = built.map(({ packageName }) => join('services', packageName));
    const visited = new Set<string>();
    const problems: string[] = [];
    while (toVisit.length > 0) {
      const dir = toVisit.pop() as string;
      if (visited.has(dir)) continue;
      visited.add(dir);
      const manifest = readPackageJson(dir);
      if (existsSync(join(root, dir, 'migrations')) && !(manifest.files ?? []).includes('migrations')) {
        problems.push(`${dir}: package.json "files" leaves out migrations`);
      }
      for (const dependency of Object.keys(manifest.dependencies ?? {})) {
        const dependencyDir = workspaceDirs.get(dependency);
        if (dependencyDir !== undefined) toVisit.push(dependencyDir);
      }
    }
    expect(problems).toEqual([]);
  });
});

interface PackageJson {
  name?: string;
  files?: string[];
  dependencies?: Record<string, string>;
}

function readPackageJson(dir: string): PackageJson {
  return JSON.parse(readFileSync(join(root, dir, 'package.json'), 'utf8')) as PackageJson;
}

/** Workspace package name to its folder, for libs/* and services/*. */
function workspacePackageDirs(): Map<string, string> {
  const dirs = new Map<string, string>();
  for (const group of ['libs', 'services']) {
    for (const entry of readdirSync(join(root, group), { withFileTypes: true })) {
      const dir = join(group, entry.name);
      if (!entry.isDirectory() || !existsSync(join(root, dir, 'package.json'))) continue;
      const { name } = readPackageJson(dir);
      if (name !== undefined) dirs.set(name, dir);
    }
  }
  return dirs;
}

async function loadConfigSchema(packageName: string): Promise<ConfigSchema> {
  const configPath = join(root, 'services', packageName, 'src', 'config.ts');
  const module = (await import(pathToFileURL(configPath).href)) as { configSchema?: ConfigSchema };
  if (module.configSchema === undefined) throw new Error(`${configPath} does not export configSchema`);
  return module.configSchema;
}
