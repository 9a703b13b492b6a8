import { join } from "node:path";
import type { HttpApp } from "@dbplane/service-kit";
import fastifyStatic from "@fastify/static";

const CONSOLE_DIR = join(import.meta.dirname, "../../console");
/** lit-html's ES modules, served as they are installed: no bundler, no copy to keep in sync. */
const LIT_HTML_DIR = join(import.meta.dirname, "../../node_modules/lit-html");

/**
 * Scripts and styles from this origin only, no inline code, no eval, no framing; API calls and
 * the live stream to this origin only (the other services are reached through /console/api).
 */
export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

/**
 * `/console/`: the web console's static shell (public: it holds no data; every call it makes
 * needs a token), with a strict Content-Security-Policy on everything under /console.
 */
export async function registerConsoleRoutes(app: HttpApp): Promise<void> {
  app.addHook("onSend", async (request, reply) => {
    if (!request.url.startsWith("/console")) return;
    reply.header("content-security-policy", CONSOLE_CSP);
    reply.header("x-content-type-options", "nosniff");
    reply.header("referrer-policy", "no-referrer");
    reply.header("cross-origin-opener-policy", "same-origin");
  });
  app.get("/console", { schema: { hide: true } }, (_request, reply) => reply.redirect("/console/", 301));
  await app.register(fastifyStatic, {
    root: CONSOLE_DIR,
    prefix: "/console/",
    redirect: true,
    index: "index.html",
    cacheControl: false,
    decorateReply: false,
  });
  await app.register(fastifyStatic, {
    root: LIT_HTML_DIR,
    prefix: "/console/vendor/lit-html/",
    allowedPath: (path) => path.endsWith(".js"),
    decorateReply: false,
  });
}
