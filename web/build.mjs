// Builds the four web apps into ../internal/webui/dist, which the tempid
// binary embeds: index.html (passenger), staff.html, admin.html, terminal.html, and
// content-hashed bundles under assets/. Everything is local: no CDN, no
// web fonts, no inline scripts (the server's CSP forbids them).
//
//   node build.mjs           production build
//   node build.mjs --watch   rebuild on change (serve with `tempid serve --web-dir`)
import * as esbuild from 'esbuild';
import { readFile, writeFile, rm, mkdir, readdir, copyFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const outdir = path.resolve(here, '../internal/webui/dist');
const watch = process.argv.includes('--watch');

const pages = [
  { entry: 'passenger', src: 'src/passenger/main.js', html: 'src/passenger/index.html', out: 'index.html' },
  { entry: 'staff', src: 'src/staff/main.js', html: 'src/staff/staff.html', out: 'staff.html' },
  { entry: 'admin', src: 'src/admin/main.js', html: 'src/admin/admin.html', out: 'admin.html' },
  { entry: 'terminal', src: 'src/terminal/main.js', html: 'src/terminal/terminal.html', out: 'terminal.html' },
  { entry: 'kiosk', src: 'src/kiosk/main.js', html: 'src/kiosk/kiosk.html', out: 'kiosk.html' },
];

async function clean() {
  await mkdir(outdir, { recursive: true });
  for (const name of await readdir(outdir)) {
    if (name !== 'README') await rm(path.join(outdir, name), { recursive: true, force: true });
  }
}

async function writePages(metafile) {
  const outputs = metafile.outputs;
  for (const p of pages) {
    const srcAbs = path.resolve(here, p.src);
    const [jsOut, meta] = Object.entries(outputs).find(([, o]) => o.entryPoint && path.resolve(here, o.entryPoint) === srcAbs);
    const url = (f) => '/' + path.relative(outdir, path.resolve(here, f)).split(path.sep).join('/');
    const tags = [];
    if (meta.cssBundle) tags.push(`<link rel="stylesheet" href="${url(meta.cssBundle)}">`);
    tags.push(`<script type="module" src="${url(jsOut)}"></script>`);
    const tpl = await readFile(path.resolve(here, p.html), 'utf8');
    await writeFile(path.join(outdir, p.out), tpl.replace('<!-- assets -->', tags.join('\n    ')));
  }
  await copyFile(path.resolve(here, 'src/favicon.svg'), path.join(outdir, 'favicon.svg'));
  await copyFile(path.resolve(here, 'src/sw.js'), path.join(outdir, 'sw.js'));
  await copyFile(path.resolve(here, 'src/terminal/sw.js'), path.join(outdir, 'terminal-sw.js'));
  await copyFile(path.resolve(here, 'src/terminal/terminal.webmanifest'), path.join(outdir, 'terminal.webmanifest'));
}

const options = {
  absWorkingDir: here,
  entryPoints: Object.fromEntries(pages.map((p) => [p.entry, p.src])),
  bundle: true,
  format: 'esm',
  splitting: true,
  minify: !watch,
  sourcemap: watch ? 'inline' : false,
  target: ['es2020', 'chrome91', 'safari15', 'firefox90'],
  outdir,
  entryNames: 'assets/[name]-[hash]',
  chunkNames: 'assets/chunk-[hash]',
  assetNames: 'assets/[name]-[hash]',
  metafile: true,
  legalComments: 'eof',
  charset: 'utf8',
  logLevel: 'info',
};

await clean();
if (watch) {
  const ctx = await esbuild.context({
    ...options,
    plugins: [{
      name: 'pages',
      setup(build) {
        build.onEnd(async (result) => {
          if (result.metafile) await writePages(result.metafile);
        });
      },
    }],
  });
  await ctx.watch();
} else {
  const result = await esbuild.build(options);
  await writePages(result.metafile);
}
