export function two() { return 2; }
//# sourceMappingURL=x.js.map