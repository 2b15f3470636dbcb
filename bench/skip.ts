/** Thrown by a benchmark whose prerequisite this machine lacks: `npm run bench` says why and keeps its old figures. */
export class BenchSkipped extends Error {}
