// Ponder reads its tables from this fixed path; they live in schema/.
export * from "./schema";
