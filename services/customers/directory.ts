import _ from "lodash";
import type { Query } from "../../lib/db/adapter";
import type { Customer } from "../../lib/contracts/types";

export interface DirectoryParams {
	search?: string;
	role?: Customer["role"];
}

/** The accounts an admin looks for: a part of the name or email (as text, any case), and a role. */
export function directoryQuery(params: DirectoryParams): Query {
	const query: Query = {};
	if (params.role) query.role = params.role;
	if (params.search) {
		const re = new RegExp(_.escapeRegExp(params.search), "i");
		query.$or = [{ name: re }, { email: re }];
	}
	return query;
}
