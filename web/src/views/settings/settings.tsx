import { useRoute } from "preact-iso";
import { currentUser } from "../../api/session";
import { roleAtLeast } from "../../auth/roles";
import { PageHeader } from "../../components/ui";
import { ApiKeysTab } from "./api-keys";
import { OrgTab } from "./org";
import { TeamDetail, TeamsTab } from "./teams";
import { UsersTab } from "./users";

const TABS = [
	["api-keys", "API keys", "admin"],
	["users", "Users", "viewer"],
	["teams", "Teams", "viewer"],
	["org", "Organization", "viewer"],
] as const;

export function SettingsPage() {
	const { params } = useRoute();
	const role = currentUser.value?.role;
	// Tabs the API would refuse are not offered (API keys are admin business).
	const tabs = TABS.filter(([, , needed]) => roleAtLeast(role, needed));
	const tab = tabs.find(([key]) => key === params.tab)?.[0] ?? tabs[0]?.[0] ?? "users";
	return (
		<>
			<PageHeader title="Settings" />
			<nav class="tabs" aria-label="Settings">
				{tabs.map(([key, label]) => (
					<a key={key} href={`/settings/${key}`} aria-current={tab === key ? "page" : undefined}>
						{label}
					</a>
				))}
			</nav>
			{tab === "api-keys" ? <ApiKeysTab /> : null}
			{tab === "users" ? <UsersTab /> : null}
			{tab === "teams" ? params.id ? <TeamDetail id={params.id} /> : <TeamsTab /> : null}
			{tab === "org" ? <OrgTab /> : null}
		</>
	);
}
