/**
 * /dashboard: the live revenue dashboard, served by every API server (the embedded one and each
 * replica). The page is a client like any other: it reads the public /graphql beside it (queries,
 * and the subscription feed over SSE) and nothing else. Its code (client/, TypeScript on Chart.js)
 * is bundled by esbuild into memory at the first request, once per process: no CDN, no build
 * step, nothing written to disk, and no CPU spent where nobody opens it.
 */
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import type { Context, Hono } from "hono";
import type { Logger } from "../../common/logger";
import type { ApiConfig } from "../config";

export const DASHBOARD_PATH = "/dashboard";
const CLIENT_DIR = fileURLToPath(new URL("./client/", import.meta.url));

type Asset = { body: Uint8Array; type: string; etag: string };
/** The page and what it loads, by the path below DASHBOARD_PATH ("" is the page). */
type Assets = Map<string, Asset>;

const asset = (body: Uint8Array, type: string): Asset => ({ body, type, etag: `"${createHash("sha256").update(body).digest("base64url").slice(0, 27)}"` });

async function bundle(): Promise<Assets> {
  const result = await build({
    entryPoints: { app: `${CLIENT_DIR}main.ts` },
    bundle: true,
    write: false,
    // Not written: esbuild names the outputs after it (app.js, and app.css for the imported CSS).
    outdir: "/",
    format: "esm",
    platform: "browser",
    target: "es2022",
    minify: true,
    legalComments: "eof",
    logLevel: "silent",
  });
  const output = (name: string) => result.outputFiles.find((file) => file.path === `/${name}`)!.contents;
  return new Map([
    ["", asset(await readFile(`${CLIENT_DIR}index.html`), "text/html; charset=utf-8")],
    ["/app.js", asset(output("app.js"), "text/javascript; charset=utf-8")],
    ["/app.css", asset(output("app.css"), "text/css; charset=utf-8")],
  ]);
}

/**
 * The page may load only its own bundle and speak only to its own origin: a CDN or a tracker
 * added by mistake is refused by the browser, not just absent.
 */
const CONTENT_SECURITY_POLICY = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

export function mountDashboard(app: Hono, { config, logger }: { config: ApiConfig; logger: Logger }) {
  if (!config.API_DASHBOARD) return;
  let assets: Promise<Assets> | undefined;
  const serve = async (c: Context, name: string) => {
    assets ??= bundle();
    let found: Asset | undefined;
    try {
      found = (await assets).get(name);
    } catch (error) {
      // A failed build is not kept: the next request tries again.
      assets = undefined;
      logger.error({ msg: "dashboard build failed", error: String(error) });
      return c.json({ error: { code: "DASHBOARD_UNAVAILABLE", message: "The dashboard could not be built; see the server's log" } }, 500);
    }
    if (!found) return c.notFound();
    const headers = { "content-type": found.type, etag: found.etag, "cache-control": "no-cache", "x-content-type-options": "nosniff", "content-security-policy": CONTENT_SECURITY_POLICY };
    if (c.req.header("if-none-match") === found.etag) return c.body(null, 304, headers);
    return c.body(found.body as Uint8Array<ArrayBuffer>, 200, headers);
  };
  app.get(DASHBOARD_PATH, (c) => serve(c, ""));
  app.get(`${DASHBOARD_PATH}/:file{app\\.(js|css)}`, (c) => serve(c, `/${c.req.param("file")}`));
}
