/**
 * Calls `fn` every `ms` while the page is in view and `shown()` holds: a
 * background tab or a hidden panel asks the API nothing (each request counts
 * against the client's rate budget), and catches up as soon as it is in
 * view again.
 */
export function pollWhileShown(fn, ms, shown = () => true) {
	const tick = () => {
		if (!document.hidden && shown()) void fn();
	};
	setInterval(tick, ms);
	document.addEventListener("visibilitychange", tick);
}
