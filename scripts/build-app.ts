// Builds the app (src/app) into dist/app: the bundle (esbuild, minified), its stylesheet, the page and the
// service worker, which caches exactly these files under a version named by their content. `npm start`
// and `npm test` run it first; `tsx scripts/build-app.ts` prints the sizes (gzip).

import { createHash } from 'node:crypto'
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { gzipSync } from 'node:zlib'
import { build } from 'esbuild'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
export const APP_OUT = join(ROOT, 'dist', 'app')

/** The files of the app shell, as the server serves them (`/` is index.html). */
export const SHELL = ['index.html', 'app.js', 'app.css'] as const

const bundle = async (entry: string, minify: boolean): Promise<string> => {
  const out = await build({
    entryPoints: [join(ROOT, entry)], bundle: true, format: 'esm', platform: 'browser', target: 'es2022',
    jsx: 'automatic', jsxImportSource: 'preact', minify, write: false, logLevel: 'silent', legalComments: 'none'
  })
  return out.outputFiles[0].text
}

/** Writes a file whole or not at all (two builds at once, e.g. parallel test files, never mix halves). */
const put = (file: string, text: string): void => {
  const tmp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`
  writeFileSync(tmp, text)
  renameSync(tmp, file)
}

export interface BuiltApp { readonly dir: string, readonly version: string, readonly sizes: Readonly<Record<string, { bytes: number, gzip: number }>> }

export const buildApp = async (dir = APP_OUT): Promise<BuiltApp> => {
  mkdirSync(dir, { recursive: true })
  const files: Record<string, string> = {
    'index.html': readFileSync(join(ROOT, 'src/app/index.html'), 'utf8'),
    'app.css': readFileSync(join(ROOT, 'src/app/app.css'), 'utf8'),
    'app.js': await bundle('src/app/main.tsx', true)
  }
  const version = createHash('sha256').update(SHELL.map(f => files[f]).join('\0')).digest('hex').slice(0, 16)
  files['sw.js'] = (await bundle('src/app/sw.ts', true)).replace('__SHELL_VERSION__', version)
  const sizes: Record<string, { bytes: number, gzip: number }> = {}
  for (const [name, text] of Object.entries(files)) {
    put(join(dir, name), text)
    sizes[name] = { bytes: Buffer.byteLength(text), gzip: gzipSync(text, { level: 9 }).length }
  }
  return { dir, version, sizes }
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const built = await buildApp()
  const total = Object.values(built.sizes).reduce((n, s) => n + s.gzip, 0)
  console.log(`app built into ${built.dir} (shell ${built.version}): ${Object.entries(built.sizes).map(([f, s]) => `${f} ${(s.bytes / 1024).toFixed(1)} KiB (${(s.gzip / 1024).toFixed(1)} KiB gzip)`).join(', ')}; ${(total / 1024).toFixed(1)} KiB gzip in all`)
}
