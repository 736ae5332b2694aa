export * from "./enums";
export * from "./accounts";
export * from "./staking";
export * from "./nodes";
export * from "./tasks";
export * from "./revenue";
