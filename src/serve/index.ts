/** Serving: `Recommender`, snapshots, online updates, the HTTP server and the Redis path. */
export {};
