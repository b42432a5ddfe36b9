//! Roles and permissions are data: users hold roles, roles hold permissions.

use rusqlite::{Connection, OptionalExtension, params};

use crate::db::StorageResult;

pub const SUPER_ADMIN_ROLE: &str = "super-admin";

pub fn holds_any_role(connection: &Connection, user_id: i64) -> StorageResult<bool> {
    Ok(connection.query_row(
        "SELECT EXISTS (SELECT 1 FROM user_roles WHERE user_id = ?1)",
        [user_id],
        |row| row.get(0),
    )?)
}

/// The user's permission names, in the document's order.
pub fn permissions(connection: &Connection, user_id: i64) -> StorageResult<Vec<String>> {
    let mut statement = connection.prepare(
        "SELECT DISTINCT p.id, p.name FROM permissions p
         JOIN role_permissions rp ON rp.permission_id = p.id
         JOIN user_roles ur ON ur.role_id = rp.role_id
         WHERE ur.user_id = ?1 ORDER BY p.id",
    )?;
    let names = statement.query_map([user_id], |row| row.get(1))?;
    Ok(names.collect::<Result<_, _>>()?)
}

pub fn has_permission(
    connection: &Connection,
    user_id: i64,
    permission: &str,
) -> StorageResult<bool> {
    Ok(connection.query_row(
        "SELECT EXISTS (SELECT 1 FROM permissions p
             JOIN role_permissions rp ON rp.permission_id = p.id
             JOIN user_roles ur ON ur.role_id = rp.role_id
             WHERE ur.user_id = ?1 AND p.name = ?2)",
        params![user_id, permission],
        |row| row.get(0),
    )?)
}

/// Whether the user holds the `super-admin` role.
pub fn is_super_admin(connection: &Connection, user_id: i64) -> StorageResult<bool> {
    Ok(connection.query_row(
        "SELECT EXISTS (SELECT 1 FROM user_roles ur JOIN roles r ON r.id = ur.role_id
             WHERE ur.user_id = ?1 AND r.name = ?2)",
        params![user_id, SUPER_ADMIN_ROLE],
        |row| row.get(0),
    )?)
}

/// The permission names of the role called `name`, if it exists.
pub fn permissions_of_role(
    connection: &Connection,
    name: &str,
) -> StorageResult<Option<Vec<String>>> {
    let id: Option<i64> = connection
        .query_row("SELECT id FROM roles WHERE name = ?1", [name], |row| {
            row.get(0)
        })
        .optional()?;
    let Some(id) = id else {
        return Ok(None);
    };
    let mut statement = connection.prepare_cached(
        "SELECT p.name FROM permissions p JOIN role_permissions rp ON rp.permission_id = p.id
         WHERE rp.role_id = ?1 ORDER BY p.id",
    )?;
    let names = statement.query_map([id], |row| row.get(0))?;
    Ok(Some(names.collect::<Result<_, _>>()?))
}

pub fn grant_role(connection: &Connection, user_id: i64, role: &str) -> StorageResult<()> {
    connection.execute(
        "INSERT OR IGNORE INTO user_roles (user_id, role_id) SELECT ?1, id FROM roles WHERE name = ?2",
        params![user_id, role],
    )?;
    Ok(())
}

/// The names of the user's roles.
pub fn role_names(connection: &Connection, user_id: i64) -> StorageResult<Vec<String>> {
    let mut statement = connection.prepare(
        "SELECT r.name FROM roles r JOIN user_roles ur ON ur.role_id = r.id
         WHERE ur.user_id = ?1 ORDER BY r.id",
    )?;
    let names = statement.query_map([user_id], |row| row.get(0))?;
    Ok(names.collect::<Result<_, _>>()?)
}

/// The names among `names` that are not roles.
pub fn unknown_roles(connection: &Connection, names: &[String]) -> StorageResult<Vec<String>> {
    let mut statement =
        connection.prepare_cached("SELECT EXISTS (SELECT 1 FROM roles WHERE name = ?1)")?;
    let mut unknown = Vec::new();
    for name in names {
        if !statement.query_row([name], |row| row.get::<_, bool>(0))? {
            unknown.push(name.clone());
        }
    }
    Ok(unknown)
}

/// Replaces the user's roles with `names` (all of which must exist).
pub fn set_user_roles(
    connection: &Connection,
    user_id: i64,
    names: &[String],
) -> StorageResult<()> {
    connection.execute("DELETE FROM user_roles WHERE user_id = ?1", [user_id])?;
    for name in names {
        grant_role(connection, user_id, name)?;
    }
    Ok(())
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleRow {
    pub id: i64,
    pub name: String,
    pub permissions: Vec<String>,
}

pub fn list(connection: &Connection) -> StorageResult<Vec<RoleRow>> {
    let mut statement = connection.prepare("SELECT id, name FROM roles ORDER BY id")?;
    let roles: Vec<(i64, String)> = statement
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?
        .collect::<Result<_, _>>()?;
    let mut permissions = connection.prepare(
        "SELECT p.name FROM permissions p JOIN role_permissions rp ON rp.permission_id = p.id
         WHERE rp.role_id = ?1 ORDER BY p.id",
    )?;
    let mut rows = Vec::with_capacity(roles.len());
    for (id, name) in roles {
        let names = permissions
            .query_map([id], |row| row.get(0))?
            .collect::<Result<_, _>>()?;
        rows.push(RoleRow {
            id,
            name,
            permissions: names,
        });
    }
    Ok(rows)
}

/// Creates the role, or replaces its permissions (every name must be one of the document's).
pub fn upsert(connection: &Connection, name: &str, permissions: &[String]) -> StorageResult<i64> {
    connection.execute("INSERT OR IGNORE INTO roles (name) VALUES (?1)", [name])?;
    let id: i64 = connection.query_row("SELECT id FROM roles WHERE name = ?1", [name], |row| {
        row.get(0)
    })?;
    connection.execute("DELETE FROM role_permissions WHERE role_id = ?1", [id])?;
    for permission in permissions {
        connection.execute(
            "INSERT OR IGNORE INTO role_permissions (role_id, permission_id)
             SELECT ?1, id FROM permissions WHERE name = ?2",
            params![id, permission],
        )?;
    }
    Ok(id)
}
