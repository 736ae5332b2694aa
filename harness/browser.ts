/**
 * A page in headless Chromium (Debian's `chromium`) through playwright-core, for tests of what
 * the servers serve to browsers (GraphiQL, the dashboard), with every request the page makes to
 * anywhere but the server it was opened from: a bundled page makes none.
 */
import { existsSync } from "node:fs";
import { chromium, type Page } from "playwright-core";

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
export const hasChromium = existsSync(CHROMIUM_PATH);

export type BrowserPage = {
  page: Page;
  /** Requests to anywhere but the page's own origin, in the order made. */
  foreignRequests: string[];
};

/** Opens `url` in a fresh browser, hands the page to `use`, and closes the browser whatever happens. */
export async function withBrowserPage<T>(url: string, use: (opened: BrowserPage) => Promise<T>, viewport?: { width: number; height: number }): Promise<T> {
  const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: ["--no-sandbox"] });
  try {
    const page = await browser.newPage(viewport ? { viewport } : {});
    const origin = new URL(url).origin;
    const foreignRequests: string[] = [];
    // blob: URLs are the page's own web workers (Monaco's), created from bundled code.
    page.on("request", (request) => {
      const requested = request.url();
      if (!requested.startsWith(origin) && !requested.startsWith(`blob:${origin}`) && !requested.startsWith("data:")) foreignRequests.push(requested);
    });
    await page.goto(url);
    return await use({ page, foreignRequests });
  } finally {
    await browser.close();
  }
}
