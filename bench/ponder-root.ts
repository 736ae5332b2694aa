/**
 * A Ponder project root made of re-exports, for a bench that runs Ponder on files of its own.
 * Ponder writes ponder-env.d.ts into its root on start; a root outside the repository keeps that
 * file out of the repository's type check.
 */
import { mkdir, mkdtemp, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "..");

/** The project's files, as absolute paths: its config, its schema, its indexing functions and its API entry. */
export type PonderProject = { config: string; schema: string; indexing: string; api: string };

/** A fresh directory under the system's temp dir that Ponder takes as `--root`; the caller removes it. */
export async function ponderRoot(project: PonderProject): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), "far-bench-ponder-"));
  await mkdir(join(root, "src/api"), { recursive: true });
  await writeFile(join(root, "ponder.config.ts"), `export { default } from ${JSON.stringify(project.config)};\n`);
  await writeFile(join(root, "ponder.schema.ts"), `export * from ${JSON.stringify(project.schema)};\n`);
  await writeFile(join(root, "src/index.ts"), `import ${JSON.stringify(project.indexing)};\n`);
  await writeFile(join(root, "src/api/index.ts"), `export { default } from ${JSON.stringify(project.api)};\n`);
  // Ponder's virtual modules (ponder:api) import packages from the root: let it find the repository's.
  await symlink(join(REPO, "node_modules"), join(root, "node_modules"), "dir");
  return root;
}
