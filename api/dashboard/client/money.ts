/**
 * Money as the API sends it: decimal strings of integers (wei; USD with 18 decimals). Shown
 * exactly, with string and bigint arithmetic; a float only ever feeds a chart's axis.
 */
const DECIMALS = 18;
const ONE = 10n ** BigInt(DECIMALS);

const grouped = (digits: string) => digits.replace(/\B(?=(\d{3})+(?!\d))/g, ",");

/** Every digit of `value` / 10^18, trailing zeros dropped, thousands grouped: "1,234.5". */
export function exactUnits(value: string): string {
  const amount = BigInt(value);
  const sign = amount < 0n ? "-" : "";
  const magnitude = amount < 0n ? -amount : amount;
  const fraction = (magnitude % ONE).toString().padStart(DECIMALS, "0").replace(/0+$/, "");
  return `${sign}${grouped((magnitude / ONE).toString())}${fraction ? `.${fraction}` : ""}`;
}

/** `value` / 10^18 rounded half up to `places` decimals, grouped: "1,234.57". */
function roundedUnits(value: string, places: number): string {
  const amount = BigInt(value);
  const step = 10n ** BigInt(DECIMALS - places);
  const magnitude = amount < 0n ? -amount : amount;
  const rounded = (magnitude + step / 2n) / step;
  const scale = 10n ** BigInt(places);
  const fraction = places > 0 ? `.${(rounded % scale).toString().padStart(places, "0")}` : "";
  return `${amount < 0n ? "-" : ""}${grouped((rounded / scale).toString())}${fraction}`;
}

export type Currency = "FAR" | "USD";

/** An amount as a table or a figure shows it: FAR exactly, USD to the cent (every digit is in the element's title). */
export function formatMoney(value: string, currency: Currency): string {
  return currency === "FAR" ? `${exactUnits(value)} FAR` : `$${roundedUnits(value, 2)}`;
}

/** For plotting only: the nearest double to `value` / 10^18. */
export function chartNumber(value: string): number {
  return Number.parseFloat(exactUnits(value).replaceAll(",", ""));
}
