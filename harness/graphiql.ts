/**
 * GraphiQL driven the way a person uses it: headless Chromium (Debian's `chromium`) through
 * playwright-core, typing into the Monaco query editor and pressing the run button.
 */
import type { Page } from "playwright-core";
import { withBrowserPage } from "./browser";

export type GraphiqlRun = {
  /** The response pane's text once it shows `expected`. */
  response: string;
  /** Requests to anywhere but the server itself: a bundled GraphiQL makes none. */
  foreignRequests: string[];
  /** What the query editor showed when the page opened, the titles of its tabs, and (with `openedExpected`) that query's response. */
  opened: { query: string; tabs: string[]; response?: string };
};

/** The response pane's text once it includes `expected`; undefined if it does not within a minute. */
async function responseShowing(page: Page, expected: string): Promise<string | undefined> {
  const shown = await page
    // Monaco renders spaces as no-break spaces.
    .waitForFunction((text) => document.querySelector(".graphiql-response")?.textContent?.replaceAll("\u00a0", " ").includes(text), expected, { timeout: 60_000 })
    .then(() => true, () => false);
  return shown ? ((await page.textContent(".graphiql-response")) ?? "").replaceAll("\u00a0", " ") : undefined;
}

/**
 * Opens GraphiQL, reads what it opened on (and with `openedExpected` runs that first, until its
 * response shows it), then types `query`, runs it and waits for `expected` in the response.
 */
export async function runInGraphiql(parameters: { url: string; query: string; expected: string; screenshotPath: string; openedExpected?: string }): Promise<GraphiqlRun> {
  return withBrowserPage(parameters.url, async ({ page, foreignRequests }) => {
    const editor = ".graphiql-query-editor .monaco-editor";
    await page.waitForSelector(editor, { timeout: 60_000 });
    const opened = {
      // Monaco renders spaces as no-break spaces, and each line as an element of its own.
      query: (await page.locator(`${editor} .view-line`).allTextContents()).map((line) => line.replaceAll("\u00a0", " ")).join("\n"),
      tabs: (await page.locator(".graphiql-tab-button").allTextContents()).map((title) => title.trim()),
      response: undefined as string | undefined,
    };
    if (parameters.openedExpected) {
      await page.click(".graphiql-execute-button");
      opened.response = await responseShowing(page, parameters.openedExpected);
      if (opened.response === undefined) throw new Error(`GraphiQL's opening query did not show ${parameters.openedExpected}; response pane: ${await page.textContent(".graphiql-response")}`);
    }
    await page.click(`${editor} .view-lines`);
    await page.keyboard.press("Control+A");
    await page.keyboard.press("Delete");
    // insertText, not type: typed braces would be auto-closed by the editor.
    await page.keyboard.insertText(parameters.query);
    // GraphiQL takes the operation name from the editor's text after a debounce: run at once, as
    // no person types, and it still sends the opening tab's name ("Cannot infer operation").
    await page.waitForTimeout(500);
    await page.click(".graphiql-execute-button");
    let response = await responseShowing(page, parameters.expected);
    if (response === undefined && (await page.textContent(".graphiql-response"))?.includes("Cannot infer operation")) {
      await page.click(".graphiql-execute-button");
      response = await responseShowing(page, parameters.expected);
    }
    await page.screenshot({ path: parameters.screenshotPath });
    if (response === undefined) {
      const typed = await page.textContent(".graphiql-query-editor .view-lines");
      throw new Error(`GraphiQL did not show ${parameters.expected}; query editor: ${typed}; response pane: ${await page.textContent(".graphiql-response")} (screenshot: ${parameters.screenshotPath})`);
    }
    return { response, foreignRequests, opened };
  });
}
