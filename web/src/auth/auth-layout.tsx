import type { ComponentChildren } from "preact";
import { useDocumentTitle } from "../components/ui";

export function AuthLayout({ title, children }: { title: string; children: ComponentChildren }) {
	useDocumentTitle(title);
	return (
		<main class="auth-page">
			<div class="auth-card">
				<div class="brand">
					<img src="/favicon.svg" alt="" width={22} height={22} />
					Hexcovery
				</div>
				<h1>{title}</h1>
				{children}
			</div>
		</main>
	);
}

/** A `next` parameter is followed only to a path on this site (never `//other.host` or a URL). */
export function safeNext(next: string | undefined): string {
	return next?.startsWith("/") && !next.startsWith("//") && !next.startsWith("/\\") ? next : "/";
}
