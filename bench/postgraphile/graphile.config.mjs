// PostGraphile v5 as bench/run measures it: the Amber preset over the benchmark
// database's public schema, no authentication, nothing but /graphql.
//
// Tuning, for a fair comparison with embhub:
// - a pool of BENCH_PG_POOL connections (bench/run gives each server the same);
// - ordering and conditions on every column: v5 offers them only on indexed
//   columns by default, and the dashboard orders sessions and participants by
//   columns of composite indexes or none;
// - no GraphiQL, no watch mode, no LISTEN connection (nothing subscribes).
import { PostGraphileAmberPreset } from "postgraphile/presets/amber";
import { makePgService } from "postgraphile/adaptors/pg";

const connectionString = process.env.DATABASE_URL;
if (!connectionString) {
  throw new Error("set DATABASE_URL to the benchmark database");
}

/** @type {GraphileConfig.Preset} */
const preset = {
  extends: [PostGraphileAmberPreset],
  disablePlugins: ["PgIndexBehaviorsPlugin"],
  pgServices: [
    makePgService({
      connectionString,
      schemas: ["public"],
      poolConfig: { max: Number(process.env.BENCH_PG_POOL ?? 10) },
      pubsub: false,
    }),
  ],
  grafserv: {
    host: "127.0.0.1",
    port: Number(process.env.BENCH_POSTGRAPHILE_PORT ?? 8081),
    graphqlPath: "/graphql",
    graphiql: false,
    watch: false,
    websockets: false,
  },
  grafast: { explain: false },
};

export default preset;
