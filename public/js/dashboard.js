import uPlot from "/vendor/uPlot.esm.js";
import { byId, el, fillRows, money, showError, timeOf } from "./format.js";

const CHART_HEIGHT = 220;
const DAY_S = 86400;
/** Pushed dashboards are shown with their series at most this often. */
const SALES_READ_MS = 1000;
/** Up to this many days, a tick on each; beyond, ticks on whole days as far apart as uPlot's spacing asks. */
const DAY_TICKS_MAX = 14;

function figure(label, value, key) {
	return el("div", { class: "figure" }, el("dt", {}, label), el("dd", { "data-figure": key }, value));
}

function showFigures(dashboard) {
	byId("figures").replaceChildren(
		figure("Orders", String(dashboard.totalOrders), "totalOrders"),
		figure("Revenue", money(dashboard.revenueCents), "revenue"),
		figure("Average order", money(dashboard.averageOrderValueCents), "averageOrder"),
		figure("Customers", dashboard.customers === null ? "unknown" : String(dashboard.customers), "customers"),
	);
	const byStatus = Object.entries(dashboard.ordersByStatus ?? {}).map(([status, count]) => `${status} ${count}`);
	byId("orders-by-status").textContent = byStatus.length ? `By status: ${byStatus.join(" · ")}` : "";
	fillRows(
		byId("top-products"),
		dashboard.topProducts.slice(0, 5).map(p => el("tr", {}, el("td", {}, p.name), el("td", { class: "num" }, String(p.quantity)), el("td", { class: "num" }, money(p.revenueCents)))),
	);
	byId("figures-updated").textContent = `Updated at ${timeOf(dashboard.updatedAt)}`;
}

/** Seconds since the epoch of a `YYYY-MM-DD` period (UTC, as analytics groups them). */
function dayStart(period) {
	return Date.parse(`${period}T00:00:00Z`) / 1000;
}

/**
 * Half a day either side of the days shown, so that a single day still has a
 * width (uPlot stretches a lone point's range to 1000 days); today when there
 * are no sales yet.
 */
function dayRange(u) {
	const days = u.data[0];
	if (!days.length) {
		const today = dayStart(new Date().toISOString().slice(0, 10));
		return [today - DAY_S / 2, today + DAY_S / 2];
	}
	return [days[0] - DAY_S / 2, days[days.length - 1] + DAY_S / 2];
}

/** Analytics groups by UTC day: the labels are UTC days too. */
function dayLabel(seconds) {
	return new Date(seconds * 1000).toLocaleDateString(undefined, { month: "short", day: "numeric", timeZone: "UTC" });
}

function dayTicks(u, _axis, min, max, incr) {
	const days = u.data[0];
	if (days.length && days.length <= DAY_TICKS_MAX) return days;
	const first = Math.ceil(min / DAY_S) * DAY_S;
	const step = Math.max(DAY_S, Math.ceil(incr / DAY_S) * DAY_S);
	const ticks = [];
	for (let t = first; t <= max; t += step) ticks.push(t);
	return ticks;
}

function chartOptions(width) {
	return {
		width,
		height: CHART_HEIGHT,
		scales: {
			x: { time: true, range: dayRange },
			revenue: { range: (_u, _min, max) => [0, Math.max(max, 1)] },
			orders: { range: (_u, _min, max) => [0, Math.max(max, 1)] },
		},
		axes: [{ splits: dayTicks, values: (_u, ticks) => ticks.map(dayLabel) }, { scale: "revenue", label: "Revenue", values: (_u, ticks) => ticks.map(t => money(t * 100)) }, { scale: "orders", label: "Orders", side: 1, grid: { show: false } }],
		series: [
			{ label: "Day", value: (_u, ts) => (ts == null ? "–" : dayLabel(ts)) },
			{ label: "Revenue", scale: "revenue", stroke: "#2f6db5", fill: "rgba(47, 109, 181, 0.35)", paths: uPlot.paths.bars({ size: [0.6, 80] }), value: (_u, v) => (v == null ? "–" : money(v * 100)) },
			{ label: "Orders", scale: "orders", stroke: "#b5542f", width: 2, dash: [6, 4], points: { show: true, size: 7 } },
		],
	};
}

function chartData(sales) {
	return [sales.map(s => dayStart(s.period)), sales.map(s => s.revenueCents / 100), sales.map(s => s.orders)];
}

function showSalesTable(sales) {
	fillRows(
		byId("sales-table"),
		[...sales].reverse().map(s => el("tr", {}, el("th", { scope: "row" }, s.period), el("td", { class: "num" }, String(s.orders)), el("td", { class: "num" }, money(s.revenueCents)))),
	);
}

/** The dashboard figures, top products and the chart of sales by day. */
export function createDashboard(api) {
	const container = byId("sales-chart");
	const error = byId("figures-error");
	let chart = null;

	function drawSales(sales) {
		const width = Math.max(container.clientWidth, 240);
		if (!chart) chart = new uPlot(chartOptions(width), chartData(sales), container);
		else chart.setData(chartData(sales));
		showSalesTable(sales);
	}

	/**
	 * The figures and the series they agree with, shown in one go: the
	 * series counts sales (confirmed, shipped, delivered), the figures every
	 * order, so a shop whose orders were all cancelled says so beside the chart.
	 */
	function showBoth(dashboard, sales) {
		showFigures(dashboard);
		if (sales) drawSales(sales);
		const empty = byId("sales-empty");
		const known = sales ?? [];
		empty.hidden = known.length > 0 || !sales;
		const placed = dashboard.totalOrders;
		empty.textContent = placed ? `No sales yet: ${placed} order${placed === 1 ? "" : "s"} placed, none of them confirmed, shipped or delivered.` : "No sales yet.";
	}

	/** The latest call wins: an answer to an earlier push that comes late is dropped. */
	let latest = 0;

	async function withSales(dashboardPromise) {
		const mine = ++latest;
		const [dashboard, sales] = await Promise.allSettled([dashboardPromise, api.get("/analytics/sales?interval=day")]);
		if (dashboard.status === "rejected") throw dashboard.reason;
		if (mine !== latest) return dashboard.value;
		showBoth(dashboard.value, sales.value ?? null);
		showError(error, sales.status === "rejected" ? `Could not load the sales: ${sales.reason.message}` : "");
		return dashboard.value;
	}

	async function load() {
		try {
			return await withSales(api.get("/analytics/dashboard"));
		} catch (err) {
			showError(error, `Could not load the figures: ${err.message}`);
			return null;
		}
	}

	/**
	 * A pushed dashboard: shown once the series that goes with it is read.
	 * Analytics pushes up to every 500 ms under load: one read at a time, at
	 * most one per SALES_READ_MS, and only the latest push waiting is shown.
	 */
	let waiting = null;
	let reading = false;
	async function show(dashboard) {
		waiting = dashboard;
		if (reading) return;
		reading = true;
		while (waiting) {
			const next = waiting;
			waiting = null;
			const started = Date.now();
			await withSales(Promise.resolve(next)).catch(() => undefined);
			if (waiting) await new Promise(resolve => setTimeout(resolve, Math.max(0, SALES_READ_MS - (Date.now() - started))));
		}
		reading = false;
	}

	new ResizeObserver(() => chart?.setSize({ width: Math.max(container.clientWidth, 240), height: CHART_HEIGHT })).observe(container);

	return { load, show };
}
