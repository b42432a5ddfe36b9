//! Roles and permissions are data: users hold roles, roles hold permissions.

use rusqlite::{Connection, params};

use crate::error::AppResult;

pub const SUPER_ADMIN_ROLE: &str = "super-admin";

pub fn holds_any_role(connection: &Connection, user_id: i64) -> AppResult<bool> {
    Ok(connection.query_row(
        "SELECT EXISTS (SELECT 1 FROM user_roles WHERE user_id = ?1)",
        [user_id],
        |row| row.get(0),
    )?)
}

/// The user's permission names, in the document's order.
pub fn permissions(connection: &Connection, user_id: i64) -> AppResult<Vec<String>> {
    let mut statement = connection.prepare(
        "SELECT DISTINCT p.id, p.name FROM permissions p
         JOIN role_permissions rp ON rp.permission_id = p.id
         JOIN user_roles ur ON ur.role_id = rp.role_id
         WHERE ur.user_id = ?1 ORDER BY p.id",
    )?;
    let names = statement.query_map([user_id], |row| row.get(1))?;
    Ok(names.collect::<Result<_, _>>()?)
}

pub fn has_permission(connection: &Connection, user_id: i64, permission: &str) -> AppResult<bool> {
    Ok(connection.query_row(
        "SELECT EXISTS (SELECT 1 FROM permissions p
             JOIN role_permissions rp ON rp.permission_id = p.id
             JOIN user_roles ur ON ur.role_id = rp.role_id
             WHERE ur.user_id = ?1 AND p.name = ?2)",
        params![user_id, permission],
        |row| row.get(0),
    )?)
}

pub fn grant_role(connection: &Connection, user_id: i64, role: &str) -> AppResult<()> {
    connection.execute(
        "INSERT OR IGNORE INTO user_roles (user_id, role_id) SELECT ?1, id FROM roles WHERE name = ?2",
        params![user_id, role],
    )?;
    Ok(())
}
