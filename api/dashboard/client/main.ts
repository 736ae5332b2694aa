/**
 * The dashboard page: one query renders everything (at one indexed block, shown as
 * `data-block`), and the subscription feed says when to ask again — at once for a payout added
 * or retracted, and at most every few seconds for the other changes a new block brings.
 */
import "./style.css";
import { BarController, BarElement, CategoryScale, Chart, Filler, Legend, LinearScale, LineController, LineElement, PointElement, Tooltip, type ChartDataset } from "chart.js";
import { bucketStart, HOUR, INTERVAL_SECONDS, type Interval } from "../../../domain/buckets";
import { query, subscribe } from "./graphql";
import { chartNumber, exactUnits, formatMoney, type Currency } from "./money";

Chart.register(BarController, BarElement, CategoryScale, Filler, Legend, LinearScale, LineController, LineElement, PointElement, Tooltip);

const DASHBOARD = /* GraphQL */ `
  query RevenueDashboard($interval: Interval!, $from: DateTime!, $to: DateTime!, $utcOffsetHours: Int) {
    indexingStatus { latestBlock { number timestamp } finalizedBlock { number } }
    revenueSeries(interval: $interval, from: $from, to: $to, utcOffsetHours: $utcOffsetHours) {
      bucketStart cumulativeAmount cumulativeUsdValue byStream { stream amount usdValue }
    }
    before: revenueSummary(to: $from) { total { amount usdValue } }
    revenueSummary {
      total { amount usdValue payoutCount }
      byStream { stream amount usdValue payoutCount }
      topNodes(limit: 10) { node { address reliability tasksCompleted } amount usdValue payoutCount }
    }
    stakingOverview { totalStaked stakerCount rewardRateBps apy }
    taskSeries(interval: $interval, from: $from, to: $to, utcOffsetHours: $utcOffsetHours) { bucketStart created completed failed expired }
    payouts(first: 12) { edges { node { id stream recipient amount usdValue blockNumber timestamp } } }
  }
`;
const LATEST_BLOCK = /* GraphQL */ `{ indexingStatus { latestBlock { timestamp } } }`;
const PAYOUT_EVENTS = /* GraphQL */ `subscription DashboardPayouts($after: String) { payouts(after: $after) { cursor action payout { id } } }`;
const STATUS_EVENTS = /* GraphQL */ `subscription DashboardStatus { indexingStatus { latestBlock { number timestamp } finalizedBlock { number } headBlock lagBlocks synced } }`;

type Money = { amount: string; usdValue: string };
type Block = { number: number; timestamp: string };
type Dashboard = {
  indexingStatus: { latestBlock: Block; finalizedBlock: { number: number } };
  revenueSeries: { bucketStart: string; cumulativeAmount: string; cumulativeUsdValue: string; byStream: (Money & { stream: string })[] }[];
  before: { total: Money };
  revenueSummary: {
    total: Money & { payoutCount: number };
    byStream: (Money & { stream: string; payoutCount: number })[];
    topNodes: (Money & { payoutCount: number; node: { address: string; reliability: number; tasksCompleted: number } })[];
  };
  stakingOverview: { totalStaked: string; stakerCount: number; rewardRateBps: number; apy: number };
  taskSeries: { bucketStart: string; created: number; completed: number; failed: number; expired: number }[];
  payouts: { edges: { node: Money & { id: string; stream: string; recipient: string; blockNumber: number; timestamp: string } }[] };
};
type Status = { latestBlock: Block; finalizedBlock: { number: number }; headBlock: number | null; lagBlocks: number | null; synced: boolean };

/** Buckets shown per interval, ending with the one holding the latest indexed block. */
const BUCKETS: Record<Interval, number> = { HOUR: 48, DAY: 30, WEEK: 26 };
const STREAM_COLORS: Record<string, string> = { NODE_PAYMENT: "#2563eb", STAKER_SHARE: "#16a34a", TREASURY: "#d97706", STAKING_REWARD: "#9333ea" };
/** The least time between two refreshes a new block (without a payout) asks for. */
const BLOCK_REFRESH_MS = 5_000;

const element = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;
const seconds = (iso: string) => Date.parse(iso) / 1000;
const streamName = (stream: string) => stream.toLowerCase().replaceAll("_", " ");

const controls = { interval: element<HTMLSelectElement>("interval"), currency: element<HTMLSelectElement>("currency"), offset: element<HTMLSelectElement>("offset") };
for (let hours = -12; hours <= 14; hours++) controls.offset.add(new Option(`UTC${hours < 0 ? "−" : "+"}${Math.abs(hours)}`, String(hours)));
// The browser's own zone when it is a whole number of hours (the API's offsets are).
const localOffset = -new Date().getTimezoneOffset() / 60;
controls.offset.value = String(Number.isInteger(localOffset) && localOffset >= -12 && localOffset <= 14 ? localOffset : 0);

const settings = () => ({
  interval: controls.interval.value as Interval,
  currency: controls.currency.value as Currency,
  offsetHours: Number(controls.offset.value),
});

/** A bucket's start as a label, in the chosen zone. */
function bucketLabel(iso: string, interval: Interval, offsetHours: number): string {
  const local = new Date((seconds(iso) + offsetHours * HOUR) * 1000).toISOString();
  return interval === "HOUR" ? `${local.slice(5, 10)} ${local.slice(11, 16)}` : local.slice(0, 10);
}

function timeLabel(iso: string, offsetHours: number): string {
  return new Date((seconds(iso) + offsetHours * HOUR) * 1000).toISOString().slice(0, 19).replace("T", " ");
}

const baseOptions = {
  responsive: true,
  maintainAspectRatio: false,
  // Updates come with every payout: redraw at once rather than animate each.
  animation: false,
  interaction: { mode: "index", intersect: false },
  plugins: { legend: { position: "bottom", labels: { boxWidth: 12 } } },
} as const;

const revenueChart = new Chart<"bar", number[], string>(element<HTMLCanvasElement>("revenue-chart"), {
  type: "bar",
  data: { labels: [], datasets: [] },
  options: { ...baseOptions, scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true } } },
});
const cumulativeChart = new Chart<"line", number[], string>(element<HTMLCanvasElement>("cumulative-chart"), {
  type: "line",
  data: { labels: [], datasets: [] },
  options: { ...baseOptions, plugins: { legend: { display: false } }, scales: { y: { beginAtZero: true } } },
});
const tasksChart = new Chart<"bar", number[], string>(element<HTMLCanvasElement>("tasks-chart"), {
  type: "bar",
  data: { labels: [], datasets: [] },
  options: { ...baseOptions, scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } } } },
});

function setMoney(target: HTMLElement, money: Money, currency: Currency) {
  const value = currency === "FAR" ? money.amount : money.usdValue;
  showDigits(target, formatMoney(value, currency));
  target.title = `${exactUnits(value)} ${currency}`;
}

/** Every digit, the fraction smaller: the text stays the exact figure. */
function showDigits(target: HTMLElement, text: string) {
  const [whole, fraction] = text.split(".");
  const small = document.createElement("span");
  small.className = "fraction";
  small.textContent = fraction === undefined ? "" : `.${fraction}`;
  target.replaceChildren(whole!, small);
}

function cell(row: HTMLTableRowElement, text: string, className?: string): HTMLTableCellElement {
  const td = row.insertCell();
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

function moneyCell(row: HTMLTableRowElement, money: Money, currency: Currency) {
  setMoney(cell(row, "", "amount"), money, currency);
}

let shown: Dashboard | undefined;
/** Payouts the feed announced since the page loaded: their rows are highlighted. */
const announced = new Set<string>();
let finalizedBlock = 0;

function renderFinality() {
  for (const row of element<HTMLTableElement>("payouts").tBodies[0]!.rows) {
    const final = Number(row.dataset.block) <= finalizedBlock;
    const badge = row.cells[5]!;
    badge.textContent = final ? "finalized" : "pending";
    badge.className = final ? "final" : "pending";
  }
}

function render(dashboard: Dashboard) {
  shown = dashboard;
  const { interval, currency, offsetHours } = settings();
  const summary = dashboard.revenueSummary;
  element("dashboard").dataset.block = String(dashboard.indexingStatus.latestBlock.number);
  finalizedBlock = Math.max(finalizedBlock, dashboard.indexingStatus.finalizedBlock.number);

  setMoney(element("total-revenue"), summary.total, currency);
  element("total-payouts").textContent = `${summary.total.payoutCount.toLocaleString("en")} payouts, all time`;
  const staked = element("total-staked");
  showDigits(staked, `${exactUnits(dashboard.stakingOverview.totalStaked)} FAR`);
  staked.title = staked.textContent!;
  element("staker-count").textContent = `${dashboard.stakingOverview.stakerCount.toLocaleString("en")} stakers`;
  const bps = dashboard.stakingOverview.rewardRateBps;
  element("reward-rate").textContent = `${Math.trunc(bps / 100)}.${String(bps % 100).padStart(2, "0")} %`;
  element("apy").textContent = `${(dashboard.stakingOverview.apy * 100).toFixed(2)} %`;

  const labels = dashboard.revenueSeries.map((point) => bucketLabel(point.bucketStart, interval, offsetHours));
  const pick = (money: Money) => chartNumber(currency === "FAR" ? money.amount : money.usdValue);
  const streams = summary.byStream.map((row) => row.stream);
  revenueChart.data = {
    labels,
    datasets: streams.map((stream) => ({
      label: streamName(stream),
      backgroundColor: STREAM_COLORS[stream],
      data: dashboard.revenueSeries.map((point) => pick(point.byStream.find((cell) => cell.stream === stream)!)),
    })),
  };
  revenueChart.options.scales!.y!.title = { display: true, text: currency };
  revenueChart.update();
  // All time up to each bucket's end: what came before the range, plus the range's running total.
  const before = dashboard.before.total;
  cumulativeChart.data = {
    labels,
    datasets: [
      {
        label: `cumulative revenue (${currency})`,
        borderColor: "#0f766e",
        backgroundColor: "rgba(15, 118, 110, 0.15)",
        fill: true,
        pointRadius: 0,
        data: dashboard.revenueSeries.map((point) =>
          pick({ amount: String(BigInt(before.amount) + BigInt(point.cumulativeAmount)), usdValue: String(BigInt(before.usdValue) + BigInt(point.cumulativeUsdValue)) }),
        ),
      },
    ],
  };
  cumulativeChart.update();
  const outcome = (key: "completed" | "failed" | "expired", color: string): ChartDataset<"bar", number[]> => ({
    label: key,
    backgroundColor: color,
    stack: "ended",
    data: dashboard.taskSeries.map((point) => point[key]),
  });
  tasksChart.data = {
    labels: dashboard.taskSeries.map((point) => bucketLabel(point.bucketStart, interval, offsetHours)),
    datasets: [
      { label: "created", backgroundColor: "#94a3b8", stack: "created", data: dashboard.taskSeries.map((point) => point.created) },
      outcome("completed", "#16a34a"),
      outcome("failed", "#dc2626"),
      outcome("expired", "#f59e0b"),
    ],
  };
  tasksChart.update();
  element("tasks-title").textContent = `Tasks per ${interval.toLowerCase()} and how they ended`;

  const streamRows = element<HTMLTableElement>("streams").tBodies[0]!;
  streamRows.replaceChildren();
  for (const row of summary.byStream) {
    const tr = streamRows.insertRow();
    tr.dataset.stream = row.stream;
    cell(tr, streamName(row.stream));
    moneyCell(tr, row, currency);
    cell(tr, row.payoutCount.toLocaleString("en"), "count");
  }

  const nodeRows = element<HTMLTableElement>("top-nodes").tBodies[0]!;
  nodeRows.replaceChildren();
  summary.topNodes.forEach((row, index) => {
    const tr = nodeRows.insertRow();
    tr.dataset.node = row.node.address;
    cell(tr, String(index + 1));
    cell(tr, row.node.address, "address").title = row.node.address;
    moneyCell(tr, row, currency);
    cell(tr, row.node.tasksCompleted.toLocaleString("en"), "count");
    cell(tr, `${row.node.reliability} %`, "count");
  });

  const payoutRows = element<HTMLTableElement>("payouts").tBodies[0]!;
  payoutRows.replaceChildren();
  for (const { node: payout } of dashboard.payouts.edges) {
    const tr = payoutRows.insertRow();
    tr.dataset.id = payout.id;
    tr.dataset.block = String(payout.blockNumber);
    if (announced.has(payout.id)) tr.classList.add("new");
    cell(tr, timeLabel(payout.timestamp, offsetHours));
    cell(tr, streamName(payout.stream));
    cell(tr, payout.recipient, "address").title = payout.recipient;
    moneyCell(tr, payout, currency);
    cell(tr, String(payout.blockNumber), "count");
    cell(tr, "");
  }
  renderFinality();
}

function renderStatus(status: Status) {
  element("latest-block").textContent = `${status.latestBlock.number.toLocaleString("en")} · ${timeLabel(status.latestBlock.timestamp, settings().offsetHours)}`;
  finalizedBlock = Math.max(finalizedBlock, status.finalizedBlock.number);
  element("finalized-block").textContent = `${status.finalizedBlock.number.toLocaleString("en")} (${status.latestBlock.number - status.finalizedBlock.number} behind)`;
  element("head-block").textContent = status.headBlock === null ? "unknown" : `${status.headBlock.toLocaleString("en")} (lag ${status.lagBlocks})`;
  const synced = element("synced");
  synced.textContent = status.synced ? "synced" : "catching up";
  synced.className = status.synced ? "final" : "pending";
  renderFinality();
}

function showError(error: unknown) {
  const target = element("error");
  target.hidden = error === undefined;
  target.textContent = error === undefined ? "" : `Could not load the dashboard: ${error instanceof Error ? error.message : String(error)}`;
}

/** The range ending with the bucket that holds `latest` (unix seconds) in the chosen zone. */
function rangeEndingAt(latest: number, interval: Interval, offsetHours: number) {
  const size = INTERVAL_SECONDS[interval];
  const to = bucketStart(latest, interval, offsetHours * HOUR) + size;
  return { from: to - BUCKETS[interval] * size, to };
}

let latestTime: number | undefined;
let loading: Promise<void> | undefined;
let again = false;

/** Loads and renders everything; a call while a load runs makes one more load follow it. */
function refresh(): Promise<void> {
  if (loading) {
    again = true;
    return loading;
  }
  loading = (async () => {
    try {
      do {
        again = false;
        latestTime ??= seconds((await query<{ indexingStatus: { latestBlock: { timestamp: string } } }>(LATEST_BLOCK)).indexingStatus.latestBlock.timestamp);
        const { interval, offsetHours } = settings();
        const range = rangeEndingAt(latestTime, interval, offsetHours);
        const iso = (time: number) => new Date(time * 1000).toISOString();
        const dashboard = await query<Dashboard>(DASHBOARD, { interval, from: iso(range.from), to: iso(range.to), utcOffsetHours: offsetHours });
        latestTime = seconds(dashboard.indexingStatus.latestBlock.timestamp);
        render(dashboard);
        // The chain moved into a bucket past the range: ask again with the range that holds it.
        if (rangeEndingAt(latestTime, interval, offsetHours).to !== range.to) again = true;
      } while (again);
      showError(undefined);
    } catch (error) {
      showError(error);
    } finally {
      loading = undefined;
    }
  })();
  return loading;
}

let lastRefresh = 0;
let blockRefresh: ReturnType<typeof setTimeout> | undefined;

/** A new block: its status is shown at once; the rest is refreshed at most every BLOCK_REFRESH_MS. */
function onBlock(status: Status) {
  renderStatus(status);
  latestTime = seconds(status.latestBlock.timestamp);
  if (shown && status.latestBlock.number === shown.indexingStatus.latestBlock.number) return;
  blockRefresh ??= setTimeout(() => {
    blockRefresh = undefined;
    lastRefresh = Date.now();
    void refresh();
  }, Math.max(0, lastRefresh + BLOCK_REFRESH_MS - Date.now()));
}

const live = element("live");
const connections = new Map<string, boolean>();
function setConnection(name: string, connected: boolean) {
  connections.set(name, connected);
  const up = [...connections.values()].every(Boolean);
  live.dataset.state = up ? "live" : "reconnecting";
  live.textContent = up ? "live" : "reconnecting…";
}

for (const control of Object.values(controls)) {
  control.addEventListener("change", () => {
    // A different range or unit needs data; a different currency only a redraw.
    if (control === controls.currency && shown) render(shown);
    else void refresh();
  });
}

void refresh();
subscribe<{ payouts: { cursor: string; action: "ADDED" | "RETRACTED" | "FINALIZED"; payout: { id: string } } }>(PAYOUT_EVENTS, {
  cursorOf: (data) => data.payouts.cursor,
  onData: ({ payouts: event }) => {
    if (event.action === "ADDED") announced.add(event.payout.id);
    if (event.action === "RETRACTED") announced.delete(event.payout.id);
    lastRefresh = Date.now();
    void refresh();
  },
  onGap: () => void refresh(),
  onConnection: (connected) => setConnection("payouts", connected),
});
subscribe<{ indexingStatus: Status }>(STATUS_EVENTS, {
  onData: ({ indexingStatus }) => onBlock(indexingStatus),
  onConnection: (connected) => setConnection("status", connected),
});
