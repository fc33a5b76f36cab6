// Bundles static/js/app.js (with upload.js and its modules in static/js/upload/) and static/css/app.css, with what they
// import from node_modules, into static/dist/.
import * as esbuild from "esbuild";

await esbuild.build({
  entryPoints: {
    app: "static/js/app.js",
    "hash-worker": "static/js/hash-worker.js",
    styles: "static/css/app.css",
  },
  outdir: "static/dist",
  bundle: true,
  minify: true,
  sourcemap: true,
  format: "esm",
  target: ["chrome110", "firefox115", "safari16"],
  loader: { ".woff2": "file", ".woff": "file" },
  assetNames: "assets/[name]-[hash]",
  logLevel: "warning",
});
