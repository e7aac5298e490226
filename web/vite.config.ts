// Builds the dashboard into dist/ (index.html + content-hashed assets/),
// which `printmeter serve --web-root` serves at "/". `npm run dev` proxies
// the API to a running printmeter (PRINTMETER_URL, default :8080).
import { defineConfig } from "vite";

const backend = process.env.PRINTMETER_URL ?? "http://127.0.0.1:8080";

export default defineConfig({
  base: "/",
  build: { outDir: "dist", assetsDir: "assets", target: "es2020" },
  server: { proxy: { "/api": backend, "/webhook": backend } },
});
