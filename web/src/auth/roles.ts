import type { User } from "../api/session";

export type Role = User["role"];
const ORDER: Role[] = ["viewer", "member", "admin", "owner"];

/** The API's role order (docs/rbac.md): controls for a higher role are hidden, the API still decides. */
export function roleAtLeast(role: Role | undefined, needed: Role): boolean {
	return role !== undefined && ORDER.indexOf(role) >= ORDER.indexOf(needed);
}

export const ROLE_LABELS: Record<Role, string> = {
	viewer: "Viewer",
	member: "Member",
	admin: "Admin",
	owner: "Owner",
};
