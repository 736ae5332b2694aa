// Ponder mounts the default export into its HTTP server; the API lives in api/.
import { db } from "ponder:api";
import schema from "ponder:schema";
import { createEmbeddedApp } from "../../api/embedded";

export default createEmbeddedApp({ db, schema });
