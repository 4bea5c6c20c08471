import type { ComponentChildren } from "preact";
import { useEffect, useRef } from "preact/hooks";
import { useLocation } from "preact-iso";
import { api, unwrap } from "./api/client";
import { currentUser, roleChange, signOut } from "./api/session";
import { ROLE_LABELS } from "./auth/roles";
import { linkWithRange, TimeRangePicker } from "./components/time-range";
import { Notice } from "./components/ui";
import { useResource } from "./components/use-resource";

const NAV: Array<[string, string]> = [
	["/", "Overview"],
	["/hosts", "Hosts"],
	["/logs", "Logs"],
	["/traces", "Traces"],
	["/query", "Query"],
	["/dashboards", "Dashboards"],
	["/monitors", "Monitors"],
	["/settings", "Settings"],
];

/** Sections whose pages read the global time range: their navigation links carry it. */
const TIMED = new Set(["/", "/hosts", "/logs", "/traces", "/query", "/dashboards"]);

/**
 * Pages whose data has a time axis show the global time range picker: not one trace (its spans
 * are its own time) nor the list of dashboards (a dashboard uses it), where it changed nothing.
 */
function showsTimeRange(path: string): boolean {
	const [, section = "", item] = path.split("/");
	if (section === "traces") return item === undefined || item === "";
	if (section === "dashboards") return item !== undefined && item !== "";
	return TIMED.has(`/${section}`);
}

function isCurrent(path: string, href: string): boolean {
	return href === "/" ? path === "/" : path === href || path.startsWith(`${href}/`);
}

export function Shell({ children }: { children: ComponentChildren }) {
	const { path, query, route } = useLocation();
	const user = currentUser.value;
	const org = useResource(() => unwrap(api.GET("/api/v1/org")), []);
	const main = useRef<HTMLElement>(null);
	const shownPath = useRef(path);
	// Another page: the focus moves to its content, so the next Tab starts there and a screen reader
	// reads it (it stayed on the link, 13 stops above). Not on the first page, nor on a filter change.
	useEffect(() => {
		if (shownPath.current === path) return;
		shownPath.current = path;
		const focused = document.activeElement;
		if (focused === null || focused === document.body || focused.closest(".sidenav, .topbar"))
			main.current?.focus({ preventScroll: true });
	}, [path]);
	return (
		<div class="shell">
			{/* The router leaves a "#…" link to the browser, which moves the focus to its target. */}
			<a class="skip-link" href="#content">
				Skip to content
			</a>
			<header class="topbar">
				<a class="brand" href="/">
					<img src="/favicon.svg" alt="" />
					Hexcovery
				</a>
				<span class="org-name" title="Your organization">
					{org.data?.name ?? ""}
				</span>
				<span class="spacer" />
				{showsTimeRange(path) ? <TimeRangePicker /> : null}
				<nav aria-label="Account" class="row">
					<a href="/account" title={user?.email}>
						{user?.name} <span class="subtitle">({user ? ROLE_LABELS[user.role] : ""})</span>
					</a>
					<button
						type="button"
						onClick={async () => {
							await signOut();
							route("/sign-in", true);
						}}
					>
						Sign out
					</button>
				</nav>
			</header>
			<nav class="sidenav" aria-label="Main">
				<ul>
					{NAV.map(([href, label]) => (
						<li key={href}>
							<a
								href={TIMED.has(href) ? linkWithRange(query, href) : href}
								aria-current={isCurrent(path, href) ? "page" : undefined}
							>
								{label}
							</a>
						</li>
					))}
				</ul>
			</nav>
			<main id="content" ref={main} tabIndex={-1}>
				{roleChange.value ? (
					<Notice
						kind="warn"
						action={
							<button type="button" class="small" onClick={() => (roleChange.value = null)}>
								Dismiss
							</button>
						}
					>
						<strong>
							Your role is now {ROLE_LABELS[roleChange.value.to]} (it was {ROLE_LABELS[roleChange.value.from]}
							).
						</strong>{" "}
						{roleChange.value.refusal ? `${roleChange.value.refusal} ` : ""}Pages now offer only what this
						role may do.
					</Notice>
				) : null}
				{children}
			</main>
		</div>
	);
}
