// Ponder refuses to start without an API file; the benchmark only needs its /ready and /status.
import { Hono } from "hono";

export default new Hono();
