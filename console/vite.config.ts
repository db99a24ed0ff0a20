import { defineConfig } from "vite";

// Built into dist/console-assets/console, served by the Worker's static assets at /console/.
export default defineConfig({
  root: import.meta.dirname,
  base: "/console/",
  oxc: { jsx: { runtime: "automatic", importSource: "preact" } },
  build: { outDir: "../dist/console-assets/console", emptyOutDir: true, assetsInlineLimit: 0 },
});
