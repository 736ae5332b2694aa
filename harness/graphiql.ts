/**
 * GraphiQL driven the way a person uses it: headless Chromium (Debian's `chromium`) through
 * playwright-core, typing into the Monaco query editor and pressing the run button.
 */
import { withBrowserPage } from "./browser";

export type GraphiqlRun = {
  /** The response pane's text once it shows `expected`. */
  response: string;
  /** Requests to anywhere but the server itself: a bundled GraphiQL makes none. */
  foreignRequests: string[];
};

export async function runInGraphiql(parameters: { url: string; query: string; expected: string; screenshotPath: string }): Promise<GraphiqlRun> {
  return withBrowserPage(parameters.url, async ({ page, foreignRequests }) => {
    const editor = ".graphiql-query-editor .monaco-editor";
    await page.waitForSelector(editor, { timeout: 60_000 });
    await page.click(`${editor} .view-lines`);
    await page.keyboard.press("Control+A");
    await page.keyboard.press("Delete");
    // insertText, not type: typed braces would be auto-closed by the editor.
    await page.keyboard.insertText(parameters.query);
    await page.click(".graphiql-execute-button");
    const shown = await page
      // Monaco renders spaces as no-break spaces.
      .waitForFunction((expected) => document.querySelector(".graphiql-response")?.textContent?.replaceAll("\u00a0", " ").includes(expected), parameters.expected, { timeout: 60_000 })
      .then(() => true, () => false);
    const response = ((await page.textContent(".graphiql-response")) ?? "").replaceAll("\u00a0", " ");
    await page.screenshot({ path: parameters.screenshotPath });
    if (!shown) {
      const typed = await page.textContent(".graphiql-query-editor .view-lines");
      throw new Error(`GraphiQL did not show ${parameters.expected}; query editor: ${typed}; response pane: ${response} (screenshot: ${parameters.screenshotPath})`);
    }
    return { response, foreignRequests };
  });
}
