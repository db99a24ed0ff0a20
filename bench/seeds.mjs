// Set-based seed SQL for benchmarks: recursive CTEs generate the rows inside SQLite,
// so a million memberships take one statement, not a million requests.
const range = (n, from = 0) =>
  `(WITH RECURSIVE n(i) AS (SELECT ${from} UNION ALL SELECT i + 1 FROM n WHERE i < ${from + n - 1}) SELECT i FROM n)`;
const q = (s) => `'${s.replace(/'/g, "''")}'`;

export function groupsSql(tenant, prefix, count) {
  return `INSERT INTO groups (tenant_id, id, name, name_key, created_at, updated_at)
  SELECT ${q(tenant)}, '${prefix}' || i, '${prefix} ' || i, '${prefix} ' || i, 0, 0 FROM ${range(count)};`;
}

export function usersSql(tenant, prefix, count, { userName = false } = {}) {
  return `INSERT INTO users (tenant_id, id, user_name, user_name_key, created_at, updated_at)
  SELECT ${q(tenant)}, '${prefix}' || i, ${userName ? `'${prefix}' || i, '${prefix}' || i` : "NULL, NULL"}, i, i FROM ${range(count)};`;
}

/** memberships of user prefix||u in group gprefix||(expr of u and k), perUser per user. */
export function membershipsSql(tenant, userPrefix, users, groupPrefix, perUser, groupExpr) {
  return `INSERT OR IGNORE INTO memberships (tenant_id, group_id, user_id, added_at)
  SELECT ${q(tenant)}, '${groupPrefix}' || (${groupExpr}), '${userPrefix}' || u, 0
  FROM (SELECT i AS u FROM ${range(users)}) CROSS JOIN (SELECT i AS k FROM ${range(perUser)});`;
}

export function recountSql(tenant) {
  return `UPDATE groups SET member_count = (SELECT count(*) FROM memberships m WHERE m.tenant_id = groups.tenant_id AND m.group_id = groups.id) WHERE tenant_id = ${q(tenant)};`;
}

// A 6-level hierarchy of 1,000 groups (1, 5, 20, 80, 250, 644 per level), each group's
// parent in the level above, with `users` users spread over the 644 leaf groups.
export const LEVELS = [1, 5, 20, 80, 250, 644];
const starts = LEVELS.map((_, i) => LEVELS.slice(0, i).reduce((a, b) => a + b, 0));
export const LEVEL_STARTS = starts;

export function hierarchySql(tenant, users) {
  const levelOf = `(CASE ${starts.map((s, l) => `WHEN i >= ${s} AND i < ${s + LEVELS[l]} THEN ${l}`).join(" ")} END)`;
  const parentOf = starts
    .slice(1)
    .map((s, l) => `coalesce(CASE WHEN lvl = ${l + 1} THEN ${starts[l]} + ((i - ${s}) % ${LEVELS[l]}) END, 0)`)
    .join(" + ");
  return [
    groupsSql(tenant, "g", 1000),
    `INSERT INTO group_edges (tenant_id, parent_id, child_id, created_at)
     SELECT ${q(tenant)}, 'g' || (${parentOf}), 'g' || i, 0 FROM (SELECT i, ${levelOf} AS lvl FROM ${range(999, 1)});`,
    usersSql(tenant, "u", users),
    membershipsSql(tenant, "u", users, "g", 1, `${starts[5]} + (u % ${LEVELS[5]})`),
    recountSql(tenant),
  ].join("\n");
}
