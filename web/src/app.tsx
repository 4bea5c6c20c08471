import { useEffect } from "preact/hooks";
import { ErrorBoundary, LocationProvider, lazy, Route, Router, useLocation } from "preact-iso";
import { api, unwrap, whenSignedOut } from "./api/client";
import { currentUser, refreshSession, sessionChecked } from "./api/session";
import { SetupPage } from "./auth/setup";
import { SignInPage } from "./auth/sign-in";
import { Shell } from "./shell";

const AccountPage = lazy(() => import("./views/account/account").then((m) => m.AccountPage));
const ForcedPasswordChange = lazy(() =>
	import("./views/account/account").then((m) => m.ForcedPasswordChange),
);
const SettingsPage = lazy(() => import("./views/settings/settings").then((m) => m.SettingsPage));
const MonitorList = lazy(() => import("./views/monitors/list").then((m) => m.MonitorList));
const MonitorDetail = lazy(() => import("./views/monitors/detail").then((m) => m.MonitorDetail));
const ChannelsPage = lazy(() => import("./views/monitors/channels").then((m) => m.ChannelsPage));
const OverviewPage = lazy(() => import("./views/overview/overview").then((m) => m.OverviewPage));
const HostsPage = lazy(() => import("./views/hosts/hosts").then((m) => m.HostsPage));
const HostDetail = lazy(() => import("./views/hosts/hosts").then((m) => m.HostDetail));
const LogsPage = lazy(() => import("./views/logs/logs").then((m) => m.LogsPage));
const TracesPage = lazy(() => import("./views/traces/traces").then((m) => m.TracesPage));
const TraceDetail = lazy(() => import("./views/traces/waterfall").then((m) => m.TraceDetail));
const QueryPage = lazy(() => import("./views/query/query").then((m) => m.QueryPage));
const DashboardList = lazy(() => import("./views/dashboards/list").then((m) => m.DashboardList));
const DashboardPage = lazy(() => import("./views/dashboards/dashboard").then((m) => m.DashboardPage));
const NotFound = lazy(() => import("./views/not-found").then((m) => m.NotFound));

export function App() {
	return (
		<LocationProvider>
			<ErrorBoundary>
				<Root />
			</ErrorBoundary>
		</LocationProvider>
	);
}

/** Where the person was, to come back to after signing in. */
export function currentPlace(): string {
	return `${location.pathname}${location.search}`;
}

function Root() {
	const { path, route } = useLocation();
	useEffect(() => {
		whenSignedOut(() => route(`/sign-in?next=${encodeURIComponent(currentPlace())}`, true));
		void refreshSession();
	}, []);
	if (path === "/setup") return <SetupPage />;
	if (path === "/sign-in") return <SignInPage />;
	if (!sessionChecked.value) {
		return (
			<p class="auth-page" role="status">
				Loading Hexcovery…
			</p>
		);
	}
	const user = currentUser.value;
	if (!user) return <SendToSignIn />;
	if (user.must_change_password) {
		return (
			<main class="auth-page">
				<ForcedPasswordChange />
			</main>
		);
	}
	return (
		<Shell>
			<Router>
				<Route path="/" component={OverviewPage} />
				<Route path="/hosts" component={HostsPage} />
				<Route path="/hosts/:host" component={HostDetail} />
				<Route path="/logs" component={LogsPage} />
				<Route path="/traces" component={TracesPage} />
				<Route path="/traces/:id" component={TraceDetail} />
				<Route path="/query" component={QueryPage} />
				<Route path="/dashboards" component={DashboardList} />
				<Route path="/dashboards/:id" component={DashboardPage} />
				<Route path="/monitors" component={MonitorList} />
				<Route path="/monitors/channels" component={ChannelsPage} />
				<Route path="/monitors/:slug" component={MonitorDetail} />
				<Route path="/settings" component={SettingsPage} />
				<Route path="/settings/:tab" component={SettingsPage} />
				<Route path="/settings/:tab/:id" component={SettingsPage} />
				<Route path="/account" component={AccountPage} />
				<Route default component={NotFound} />
			</Router>
		</Shell>
	);
}

/** Signed out: first-run setup while no user exists, else sign-in, coming back here afterwards. */
function SendToSignIn() {
	const { route } = useLocation();
	useEffect(() => {
		const next = currentPlace();
		unwrap(api.GET("/api/v1/setup"))
			.then((state) =>
				route(state.setup_required ? "/setup" : `/sign-in?next=${encodeURIComponent(next)}`, true),
			)
			.catch(() => route(`/sign-in?next=${encodeURIComponent(next)}`, true));
	}, []);
	return (
		<p class="auth-page" role="status">
			Loading Hexcovery…
		</p>
	);
}
