/**
 * docker-compose.yml cannot run here (no Docker engine), so everything it names is checked
 * against the project instead: the files and scripts its commands run, the settings its
 * environments set (and that each process accepts them), the ports its servers listen on and
 * publish, its health checks, dependencies and volumes. `.env.example` is held to the same settings.
 */
import { existsSync, readFileSync } from "node:fs";
import { posix } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { API_SETTINGS, loadReplicaConfig } from "../../api/config";
import { COMMON_SETTINGS, loadDeployConfig, loadIndexerConfig } from "../../common/config";
import { loadOracleConfig, ORACLE_SETTINGS } from "../../oracle/config";

type Service = {
  image?: string;
  build?: string;
  command?: string[];
  entrypoint?: string[];
  environment?: Record<string, string>;
  ports?: string[];
  expose?: string[];
  volumes?: string[];
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[] };
  profiles?: string[];
};

const compose = parse(readFileSync("docker-compose.yml", "utf8"), { merge: true }) as {
  services: Record<string, Service>;
  volumes: Record<string, unknown>;
};
const services = compose.services;
const projectSettings = new Set([...COMMON_SETTINGS, ...API_SETTINGS, ...ORACLE_SETTINGS]);
/** Variables the official images read themselves. */
const imageSettings: Record<string, string[]> = {
  postgres: ["POSTGRES_USER", "POSTGRES_PASSWORD", "POSTGRES_DB"],
  grafana: ["GF_SECURITY_ADMIN_PASSWORD", "GF_USERS_ALLOW_SIGN_UP", "GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"],
};
/** Variables compose itself reads from the shell or .env (`${NAME:-default}`) that no process of the project reads. */
const composeOnly = [...readFileSync("docker-compose.yml", "utf8").matchAll(/\$\{(\w+)/g)].map((match) => match[1]!).filter((name) => !projectSettings.has(name));

/** `${NAME:-default}` as compose resolves it with nothing set in the shell or .env. */
function resolveDefaults(environment: Record<string, string> = {}): Record<string, string> {
  return Object.fromEntries(Object.entries(environment).map(([name, value]) => [name, String(value).replace(/\$\{\w+:-([^}]*)\}/g, "$1")]));
}

const appServices = Object.entries(services).filter(([, service]) => service.image === services.indexer!.image);
const containerPort = (mapping: string) => Number(mapping.split(":").at(-1));
const urlPort = (command: string[] = []) => Number(command.join(" ").match(/http:\/\/127\.0\.0\.1:(\d+)\//)?.[1]);

describe("docker-compose.yml", () => {
  it("has the roles the design names: postgres, redis, anvil (profile), one indexer, API replicas behind one port, the oracle", () => {
    expect(Object.keys(services).sort()).toEqual(["anvil", "api", "api-proxy", "deploy", "grafana", "indexer", "oracle", "postgres", "prometheus", "redis"]);
    expect(services.anvil!.profiles).toEqual(["anvil"]);
    expect(services.indexer!).not.toHaveProperty("deploy");
    expect((services.api as { deploy?: { replicas: number } }).deploy?.replicas).toBeGreaterThanOrEqual(2);
    expect(services.api!.ports, "replicas are reached through api-proxy only").toBeUndefined();
  });

  it("builds the project's own image from its Dockerfile and pins every other image to a version", () => {
    expect(existsSync("Dockerfile")).toBe(true);
    for (const [, service] of appServices) expect(service.build).toBe(".");
    for (const [name, service] of Object.entries(services).filter(([, service]) => !service.build)) {
      expect(service.image, name).toMatch(/^[\w./-]+:[\w.-]+$/);
      expect(service.image, name).not.toMatch(/:latest$/);
    }
  });

  it("runs commands that exist in the project", () => {
    const packageJson = JSON.parse(readFileSync("package.json", "utf8")) as { dependencies: Record<string, string>; devDependencies: Record<string, string> };
    const dependencies = { ...packageJson.dependencies, ...packageJson.devDependencies };
    for (const [name, service] of appServices) {
      const [runner, tool, script] = service.command!;
      expect(runner, name).toBe("npx");
      expect(Object.keys(dependencies), `${name}: ${tool}`).toContain(tool);
      if (tool === "tsx") expect(existsSync(script!), `${name}: ${script}`).toBe(true);
    }
    expect(services.indexer!.command).toEqual(expect.arrayContaining(["ponder", "start"]));
    expect(services.anvil!.entrypoint![0]).toBe("anvil");
  });

  it("sets only settings the project reads, with values each process accepts", () => {
    for (const [name, service] of appServices) {
      for (const variable of Object.keys(service.environment ?? {})) expect(projectSettings, `${name}: ${variable}`).toContain(variable);
    }
    for (const [name, variables] of Object.entries(imageSettings)) {
      for (const variable of Object.keys(services[name]!.environment ?? {})) expect(variables, `${name}: ${variable}`).toContain(variable);
    }
    expect(() => loadIndexerConfig(resolveDefaults(services.indexer!.environment))).not.toThrow();
    expect(() => loadReplicaConfig(resolveDefaults(services.api!.environment))).not.toThrow();
    expect(() => loadOracleConfig(resolveDefaults(services.oracle!.environment))).not.toThrow();
    expect(() => loadDeployConfig(resolveDefaults(services.deploy!.environment))).not.toThrow();
  });

  it("points the app at its own postgres, redis and anvil services", () => {
    const env = resolveDefaults(services.indexer!.environment);
    const database = new URL(env.DATABASE_URL!);
    const postgresEnv = services.postgres!.environment!;
    expect([database.hostname, database.username, database.password, database.pathname.slice(1)]).toEqual(["postgres", postgresEnv.POSTGRES_USER, postgresEnv.POSTGRES_PASSWORD, postgresEnv.POSTGRES_DB]);
    expect(new URL(env.REDIS_URL!).hostname).toBe("redis");
    const rpc = new URL(env.RPC_URL!);
    expect(rpc.hostname).toBe("anvil");
    expect(services.anvil!.entrypoint).toEqual(expect.arrayContaining(["--port", rpc.port]));
    expect(services.anvil!.healthcheck!.test.join(" ")).toContain(`127.0.0.1:${rpc.port}`);
  });

  it("publishes and health-checks the ports its servers listen on", () => {
    const indexerPort = Number(services.indexer!.command![services.indexer!.command!.indexOf("--port") + 1]);
    expect(services.indexer!.ports!.map(containerPort)).toEqual([indexerPort]);
    expect(urlPort(services.indexer!.healthcheck!.test)).toBe(indexerPort);

    const apiPort = loadReplicaConfig(resolveDefaults(services.api!.environment)).API_PORT;
    expect(services.api!.expose!.map(Number)).toEqual([apiPort]);
    expect(urlPort(services.api!.healthcheck!.test)).toBe(apiPort);

    const proxy = services["api-proxy"]!;
    const [mount] = proxy.volumes!;
    const [file, target] = mount!.split(":");
    expect(target).toBe("/etc/nginx/conf.d/default.conf");
    const nginx = readFileSync(file!, "utf8");
    expect(nginx).toContain(`server api:${apiPort};`);
    const listen = Number(nginx.match(/listen (\d+);/)?.[1]);
    expect(proxy.ports!.map(containerPort)).toEqual([listen]);
    expect(urlPort(proxy.healthcheck!.test)).toBe(listen);

    const oraclePort = loadOracleConfig(resolveDefaults(services.oracle!.environment)).ORACLE_HTTP_PORT;
    expect(services.oracle!.ports!.map(containerPort)).toEqual([oraclePort]);
    expect(urlPort(services.oracle!.healthcheck!.test)).toBe(oraclePort);

    const oneShot = ["deploy"];
    for (const [name, service] of Object.entries(services)) {
      if (!oneShot.includes(name)) expect(service.healthcheck, `${name} has a health check`).toBeDefined();
    }
  });

  it("waits on health checks that exist and keeps every stateful service's data in a declared volume", () => {
    for (const [name, service] of Object.entries(services)) {
      for (const [dependency, { condition }] of Object.entries(service.depends_on ?? {})) {
        expect(Object.keys(services), `${name} → ${dependency}`).toContain(dependency);
        if (condition === "service_healthy") expect(services[dependency]!.healthcheck, `${name} → ${dependency}`).toBeDefined();
      }
      for (const volume of service.volumes ?? []) {
        const source = volume.split(":")[0]!;
        if (source.startsWith(".")) expect(existsSync(source), `${name}: ${source}`).toBe(true);
        else expect(Object.keys(compose.volumes), `${name}: ${source}`).toContain(source);
      }
    }
    for (const name of ["postgres", "redis", "anvil"]) expect(services[name]!.volumes?.length, name).toBeGreaterThan(0);
    expect(services.redis!.command).toEqual(expect.arrayContaining(["--appendonly", "yes"]));
  });
});

describe("docker-compose.yml's monitoring (ops/)", () => {
  /** A service's bind mounts of the project's files: container path → the project's path. */
  const mountsOf = (service: Service) =>
    Object.fromEntries((service.volumes ?? []).filter((volume) => volume.startsWith("./")).map((volume) => volume.split(":")).map(([source, target]) => [target!, source!.slice(2)]));
  type ScrapeJob = { job_name: string; static_configs?: { targets: string[] }[]; dns_sd_configs?: { names: string[]; port: number }[] };
  const prometheus = services.prometheus!;
  const prometheusMounts = mountsOf(prometheus);
  const configPath = prometheus.command!.find((argument) => argument.startsWith("--config.file="))!.split("=")[1]!;
  const prometheusConfig = parse(readFileSync(prometheusMounts[configPath]!, "utf8")) as { rule_files: string[]; scrape_configs: ScrapeJob[] };
  const prometheusPort = Number(prometheus.command!.find((argument) => argument.startsWith("--web.listen-address="))!.split(":").at(-1));
  /** Jobs scraping a service another branch is adding (the payout webhook deliverer, on its metrics port 9465). */
  const PENDING_SERVICES = ["webhooks"];

  it("runs Prometheus on the project's configuration and rules, mounted where the configuration names them", () => {
    expect(prometheusMounts[configPath]).toBe("ops/prometheus/prometheus.yml");
    for (const ruleFile of prometheusConfig.rule_files) {
      // Prometheus resolves a rule file beside its configuration: the same file must be there in the container.
      const source = prometheusMounts[posix.join(posix.dirname(configPath), ruleFile)];
      expect(source, ruleFile).toBe(posix.join("ops/prometheus", ruleFile));
      expect(existsSync(source!), ruleFile).toBe(true);
    }
    expect(prometheus.ports!.map(containerPort)).toEqual([prometheusPort]);
    expect(prometheus.ports!.every((mapping) => mapping.startsWith("127.0.0.1:")), "operators' port, the host's loopback only").toBe(true);
    expect(urlPort(prometheus.healthcheck!.test)).toBe(prometheusPort);
  });

  it("scrapes every process of the stack on the port it listens on", () => {
    const listening: Record<string, number> = {
      indexer: Number(services.indexer!.command![services.indexer!.command!.indexOf("--port") + 1]),
      api: loadReplicaConfig(resolveDefaults(services.api!.environment)).API_PORT,
      oracle: loadOracleConfig(resolveDefaults(services.oracle!.environment)).ORACLE_HTTP_PORT,
    };
    const scraped = prometheusConfig.scrape_configs.flatMap((job) => [
      ...(job.static_configs ?? []).flatMap((config) => config.targets),
      ...(job.dns_sd_configs ?? []).flatMap((config) => config.names.map((name) => `${name}:${config.port}`)),
    ]);
    const [running, pending] = [scraped.filter((target) => !PENDING_SERVICES.includes(target.split(":")[0]!)), scraped.filter((target) => PENDING_SERVICES.includes(target.split(":")[0]!))];
    expect(running.sort()).toEqual(Object.entries(listening).map(([service, port]) => `${service}:${port}`).sort());
    expect(pending).toEqual(["webhooks:9465"]);
    // Each job is named after the service it scrapes: the rules and the dashboard select by job.
    expect(prometheusConfig.scrape_configs.map((job) => job.job_name).sort()).toEqual(scraped.map((target) => target.split(":")[0]).sort());
  });

  it("runs Grafana on that Prometheus, with the dashboard provisioned and its home", () => {
    const grafana = services.grafana!;
    const mounts = mountsOf(grafana);
    const provisioning = mounts["/etc/grafana/provisioning"]!;
    const datasources = parse(readFileSync(`${provisioning}/datasources/prometheus.yml`, "utf8")) as { datasources: { uid: string; type: string; url: string }[] };
    const [datasource] = datasources.datasources;
    expect(datasource!.type).toBe("prometheus");
    expect(datasource!.url).toBe(`http://prometheus:${prometheusPort}`);
    const providers = parse(readFileSync(`${provisioning}/dashboards/far.yml`, "utf8")) as { providers: { options: { path: string } }[] };
    const dashboardsDir = providers.providers[0]!.options.path;
    expect(mounts[dashboardsDir]).toBe("ops/grafana/dashboards");
    const home = grafana.environment!.GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH!;
    expect(posix.dirname(home)).toBe(dashboardsDir);
    const dashboard = JSON.parse(readFileSync(`ops/grafana/dashboards/${posix.basename(home)}`, "utf8")) as { panels: { type: string; datasource?: { uid: string } }[] };
    const panels = dashboard.panels.filter((panel) => panel.type !== "row");
    expect(panels.length).toBeGreaterThan(10);
    for (const panel of panels) expect(panel.datasource?.uid).toBe(datasource!.uid);
    expect(grafana.ports!.every((mapping) => mapping.startsWith("127.0.0.1:"))).toBe(true);
    expect(urlPort(grafana.healthcheck!.test)).toBe(containerPort(grafana.ports![0]!));
  });
});

describe(".env.example", () => {
  it("lists every setting the project reads and every variable docker-compose.yml reads, and nothing else", () => {
    const listed = [...readFileSync(".env.example", "utf8").matchAll(/^# ([A-Z][A-Z0-9_]*)=/gm)].map((match) => match[1]!);
    expect(composeOnly).toEqual(["GRAFANA_ADMIN_PASSWORD"]);
    expect([...new Set(listed)].sort()).toEqual([...new Set([...projectSettings, ...composeOnly])].sort());
  });
});
