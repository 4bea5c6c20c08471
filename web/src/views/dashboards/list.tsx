import { useState } from "preact/hooks";
import { useLocation } from "preact-iso";
import { type ApiProblem, api, asProblem, unwrap } from "../../api/client";
import { ConfirmDialog, Empty, ErrorNotice, Field, Loading, PageHeader, When } from "../../components/ui";
import { useResource } from "../../components/use-resource";
import "../query/explore.css";

/** Dashboards: search by title, filter by a tag (both in the URL), create one. */
export function DashboardList() {
	const { path, query, route } = useLocation();
	const q = query.q ?? "";
	const tag = query.tag ?? "";
	const list = useResource(
		() =>
			unwrap(
				api.GET("/api/v1/dashboards", {
					params: { query: { limit: 100, ...(q ? { q } : {}), ...(tag ? { tag } : {}) } },
				}),
			),
		[q, tag],
	);
	const [creating, setCreating] = useState(false);
	const [title, setTitle] = useState("");
	const [busy, setBusy] = useState(false);
	const [problem, setProblem] = useState<ApiProblem | null>(null);
	const setParams = (params: Record<string, string>) => {
		const next = new URLSearchParams();
		for (const [k, v] of Object.entries({ ...query, ...params })) if (v) next.set(k, v);
		route(`${path}?${next}`, true);
	};
	const create = async () => {
		setBusy(true);
		setProblem(null);
		try {
			const created = await unwrap(api.POST("/api/v1/dashboards", { body: { title: title.trim() } }));
			route(`/dashboards/${created.id}?edit=1`);
		} catch (e) {
			setProblem(asProblem(e));
			setBusy(false);
		}
	};
	const rows = list.data?.data ?? [];
	return (
		<>
			<PageHeader
				title="Dashboards"
				subtitle="Panels of OQL results on a grid, with variables and the global time range."
			>
				<button type="button" class="primary" onClick={() => setCreating(true)}>
					New dashboard
				</button>
			</PageHeader>
			<div class="row filters-row">
				<Field
					label="Search dashboards"
					type="search"
					value={q}
					placeholder="Title contains…"
					onInput={(e) => setParams({ q: e.currentTarget.value })}
				/>
				{tag ? (
					<button type="button" class="small" onClick={() => setParams({ tag: "" })}>
						Tag: {tag} ✕<span class="visually-hidden"> (remove the tag filter)</span>
					</button>
				) : null}
			</div>
			<ErrorNotice problem={list.error} />
			{list.data === undefined ? (
				list.loading ? (
					<Loading what="dashboards" />
				) : null
			) : rows.length === 0 ? (
				<Empty>
					{q || tag
						? "No dashboard matches."
						: "No dashboards yet. Create one here, or add a query to one from the Query page."}
				</Empty>
			) : (
				<div class="table-wrap">
					<table aria-label="Dashboards">
						<thead>
							<tr>
								<th scope="col">Title</th>
								<th scope="col">Tags</th>
								<th scope="col">Panels</th>
								<th scope="col">Updated</th>
							</tr>
						</thead>
						<tbody>
							{rows.map((d) => (
								<tr key={d.id}>
									<td>
										<a href={`/dashboards/${d.id}`}>{d.title}</a>
										{d.description ? <div class="sub">{d.description}</div> : null}
									</td>
									<td>
										{d.tags.map((t) => (
											<button
												key={t}
												type="button"
												class="small tag"
												aria-pressed={t === tag}
												onClick={() => setParams({ tag: t })}
											>
												{t}
											</button>
										))}
									</td>
									<td>{d.panel_count}</td>
									<td>
										<When at={d.updated_at} /> {d.updated_by.name ? `by ${d.updated_by.name}` : ""}
									</td>
								</tr>
							))}
						</tbody>
					</table>
					{list.data.next_cursor ? (
						<p class="subtitle">
							The first {rows.length} dashboards are shown; there are more. Search by title or pick a tag to
							find the others.
						</p>
					) : null}
				</div>
			)}
			<ConfirmDialog
				open={creating}
				title="New dashboard"
				confirmLabel="Create"
				busy={busy || !title.trim()}
				onConfirm={create}
				onCancel={() => setCreating(false)}
			>
				<Field label="Title" value={title} maxLength={200} onInput={(e) => setTitle(e.currentTarget.value)} />
				<ErrorNotice problem={problem} />
			</ConfirmDialog>
		</>
	);
}
