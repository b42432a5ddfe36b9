//! Users, their sign-in names, password failures and the member figures read from ledgers.

use rusqlite::{Connection, OptionalExtension, Row, params};

use crate::db::ledgers::{self, Ledger};
use crate::db::{StorageError, StorageResult, Unique, is_unique_violation};

#[derive(Debug, Clone)]
pub struct UserRow {
    pub id: i64,
    pub account: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    /// The WeChat unionid of the account's WeChat identity, when WeChat gave one.
    pub wechat_unionid: Option<String>,
    /// Whether a WeChat identity is bound (an openid of some app; `db::wechat`).
    pub wechat_bound: bool,
    pub nickname: String,
    pub sex: i64,
    pub avatar: String,
    pub password_hash: Option<String>,
    pub disabled: bool,
    pub created_at: i64,
    /// When the phone / e-mail was bound by `POST /api/login_modes` (None: at registration).
    pub phone_bound_at: Option<i64>,
    pub email_bound_at: Option<i64>,
}

const COLUMNS: &str = "id, account, phone, email, wechat_unionid, nickname, sex, avatar, \
                       password_hash, disabled, created_at, phone_bound_at, email_bound_at, \
                       EXISTS (SELECT 1 FROM wechat_openids AS w WHERE w.user_id = users.id)";

fn from_row(row: &Row<'_>) -> rusqlite::Result<UserRow> {
    Ok(UserRow {
        id: row.get(0)?,
        account: row.get(1)?,
        phone: row.get(2)?,
        email: row.get(3)?,
        wechat_unionid: row.get(4)?,
        nickname: row.get(5)?,
        sex: row.get(6)?,
        avatar: row.get(7)?,
        password_hash: row.get(8)?,
        disabled: row.get(9)?,
        created_at: row.get(10)?,
        phone_bound_at: row.get(11)?,
        email_bound_at: row.get(12)?,
        wechat_bound: row.get(13)?,
    })
}

fn one(
    connection: &Connection,
    column: &str,
    value: &dyn rusqlite::ToSql,
) -> StorageResult<Option<UserRow>> {
    let sql = format!("SELECT {COLUMNS} FROM users WHERE {column} = ?1");
    Ok(connection
        .prepare_cached(&sql)?
        .query_row([value], from_row)
        .optional()?)
}

pub fn by_id(connection: &Connection, id: i64) -> StorageResult<Option<UserRow>> {
    one(connection, "id", &id)
}

pub fn by_phone(connection: &Connection, phone: &str) -> StorageResult<Option<UserRow>> {
    one(connection, "phone", &phone)
}

pub fn by_email(connection: &Connection, email: &str) -> StorageResult<Option<UserRow>> {
    one(connection, "email", &email)
}

/// What a sign-in name names: an e-mail address (lower-cased), a phone (canonical, SPEC §4) or
/// an account name. Account names can never be a phone in any spelling or contain `@`, so the
/// three never overlap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginName {
    Email(String),
    /// The canonical phone, and the name as typed (see [`by_login_name`]).
    Phone {
        phone: String,
        typed: String,
    },
    Account(String),
}

impl LoginName {
    pub fn parse(raw: &str) -> LoginName {
        let name = raw.trim();
        if name.contains('@') {
            LoginName::Email(name.to_lowercase())
        } else if let Some(phone) = shared::validate::canonical_phone(name) {
            LoginName::Phone {
                phone,
                typed: name.to_owned(),
            }
        } else {
            LoginName::Account(name.to_owned())
        }
    }

    /// One spelling per name, for counting failed sign-ins of names nobody holds.
    pub fn key(&self) -> String {
        match self {
            LoginName::Email(email) => format!("email:{email}"),
            LoginName::Phone { phone, .. } => format!("phone:{phone}"),
            LoginName::Account(account) => format!("account:{account}"),
        }
    }
}

/// The user a sign-in name names. A phone is looked up in its canonical form; only if no user
/// has that phone is a name like `8613912345678` tried as an account name, which accounts
/// created before phones were canonical may have (new ones cannot).
pub fn by_login_name(connection: &Connection, name: &LoginName) -> StorageResult<Option<UserRow>> {
    match name {
        LoginName::Email(email) => by_email(connection, email),
        LoginName::Phone { phone, typed } => match by_phone(connection, phone)? {
            Some(user) => Ok(Some(user)),
            None if typed.bytes().all(|b| b.is_ascii_alphanumeric()) => {
                one(connection, "account", typed)
            }
            None => Ok(None),
        },
        LoginName::Account(account) => one(connection, "account", account),
    }
}

#[derive(Debug, Default)]
pub struct NewUser {
    pub account: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub nickname: String,
    pub password_hash: Option<String>,
}

/// Inserts a user. A sign-in name another user holds is [`StorageError::Duplicate`] naming it.
pub fn insert(connection: &Connection, user: &NewUser, now: i64) -> StorageResult<i64> {
    let result = connection.execute(
        "INSERT INTO users (account, phone, email, nickname, password_hash, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            user.account,
            user.phone,
            user.email,
            user.nickname,
            user.password_hash,
            now
        ],
    );
    match result {
        Ok(_) => Ok(connection.last_insert_rowid()),
        Err(error) if is_unique_violation(&error) => {
            // The failed statement wrote nothing, so the holder is whichever other row has one
            // of the new user's sign-in names.
            let names = [
                (Unique::UserAccount, "account", &user.account),
                (Unique::UserPhone, "phone", &user.phone),
                (Unique::UserEmail, "email", &user.email),
            ];
            for (unique, column, value) in names {
                if let Some(value) = value
                    && one(connection, column, value)?.is_some()
                {
                    return Err(StorageError::Duplicate(unique));
                }
            }
            Err(error.into())
        }
        Err(error) => Err(error.into()),
    }
}

/// Sets the password. Callers that change it for the owner also lift the account's sign-in
/// locks (`domain::identity::clear_sign_in_locks`).
pub fn set_password(connection: &Connection, user_id: i64, hash: &str) -> StorageResult<()> {
    connection.execute(
        "UPDATE users SET password_hash = ?2 WHERE id = ?1",
        params![user_id, hash],
    )?;
    Ok(())
}

/// Creates or updates the user with this account name, setting its password.
pub fn upsert_by_account(
    connection: &Connection,
    account: &str,
    hash: &str,
    now: i64,
) -> StorageResult<i64> {
    if let Some(user) = one(connection, "account", &account)? {
        set_password(connection, user.id, hash)?;
        connection.execute("UPDATE users SET disabled = 0 WHERE id = ?1", [user.id])?;
        return Ok(user.id);
    }
    let user = NewUser {
        account: Some(account.to_owned()),
        nickname: account.to_owned(),
        password_hash: Some(hash.to_owned()),
        ..NewUser::default()
    };
    insert(connection, &user, now)
}

/// Points and balance as the ledgers say: the current figure is the latest surplus.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Wallet {
    pub points: i64,
    pub history_points: i64,
    pub balance_cents: i64,
}

/// Two index reads: the latest points entry (its surplus, and the running total of what was
/// ever earned, migration 0016) and the latest balance entry. Never a scan of the history.
pub fn wallet(connection: &Connection, user_id: i64) -> StorageResult<Wallet> {
    let (points, history_points) = connection
        .prepare_cached(
            "SELECT surplus, earned FROM points_records WHERE user_id = ?1 ORDER BY id DESC LIMIT 1",
        )?
        .query_row([user_id], |row| Ok((row.get(0)?, row.get(1)?)))
        .optional()?
        .unwrap_or((0, 0));
    Ok(Wallet {
        points,
        history_points,
        balance_cents: ledgers::current(connection, Ledger::Balance, user_id)?,
    })
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberLevel {
    pub id: i64,
    pub name: String,
    pub accumulate_points: i64,
    pub discount_percent: i64,
}

/// The highest level whose threshold `history_points` reaches.
pub fn member_level(connection: &Connection, history_points: i64) -> StorageResult<MemberLevel> {
    connection
        .prepare_cached(
            "SELECT id, name, accumulate_points, discount_percent FROM member_levels
             WHERE accumulate_points <= ?1 ORDER BY accumulate_points DESC LIMIT 1",
        )?
        .query_row([history_points], |row| {
            Ok(MemberLevel {
                id: row.get(0)?,
                name: row.get(1)?,
                accumulate_points: row.get(2)?,
                discount_percent: row.get(3)?,
            })
        })
        .optional()?
        .ok_or_else(|| anyhow::anyhow!("no member level has threshold 0").into())
}

/// Changes the given profile fields; `None` leaves a field as it is.
pub fn update_profile(
    connection: &Connection,
    user_id: i64,
    nickname: Option<&str>,
    sex: Option<i64>,
    avatar: Option<&str>,
) -> StorageResult<()> {
    connection.execute(
        "UPDATE users SET nickname = coalesce(?2, nickname), sex = coalesce(?3, sex),
                          avatar = coalesce(?4, avatar)
         WHERE id = ?1",
        params![user_id, nickname, sex, avatar],
    )?;
    Ok(())
}

/// Sets or clears the user's phone or e-mail, noting when it was bound. A value another user
/// holds is [`StorageError::Duplicate`].
pub fn set_login(
    connection: &Connection,
    user_id: i64,
    column: LoginColumn,
    value: Option<&str>,
    now: i64,
) -> StorageResult<()> {
    let sql = format!(
        "UPDATE users SET {0} = ?2, {0}_bound_at = CASE WHEN ?2 IS NULL THEN NULL ELSE ?3 END
         WHERE id = ?1",
        column.name()
    );
    match connection.execute(&sql, params![user_id, value, now]) {
        Ok(_) => Ok(()),
        // The one unique column this statement changes is `column`.
        Err(error) if is_unique_violation(&error) => Err(StorageError::Duplicate(column.unique())),
        Err(error) => Err(error.into()),
    }
}

/// The sign-in columns a client may bind and unbind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginColumn {
    Phone,
    Email,
}

impl LoginColumn {
    /// When the user's value of this column was bound to the existing account, if it was.
    pub fn bound_at(self, user: &UserRow) -> Option<i64> {
        match self {
            LoginColumn::Phone => user.phone_bound_at,
            LoginColumn::Email => user.email_bound_at,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            LoginColumn::Phone => "phone",
            LoginColumn::Email => "email",
        }
    }

    /// The constraint that keeps this column's values unique.
    pub fn unique(self) -> Unique {
        match self {
            LoginColumn::Phone => Unique::UserPhone,
            LoginColumn::Email => Unique::UserEmail,
        }
    }
}

/// A user search: the LIKE pattern every match satisfies and, for a query of three characters
/// or more that few users hold, the trigram phrase that finds its candidates by index
/// (migration 0018). Short queries, which a trigram index cannot serve, scan; so do queries
/// that more than one user in [`INDEX_SHARE`] holds, for which checking the index's
/// candidates one by one costs more than the scan (BENCHMARKS.md, "Back-office lists").
struct Search {
    /// A phone in any spelling is searched in its canonical form (SPEC §4); LIKE wildcards in
    /// the query are matched literally.
    pattern: Option<String>,
    phrase: Option<String>,
}

/// Every match's test: a part of the account, phone, e-mail or nickname.
const LIKE_FILTER: &str = "(account LIKE :pattern ESCAPE '\\' OR phone LIKE :pattern ESCAPE '\\'
     OR email LIKE :pattern ESCAPE '\\' OR nickname LIKE :pattern ESCAPE '\\')";

/// The index serves a query only if at most one user in this many holds it.
const INDEX_SHARE: i64 = 8;

impl Search {
    fn new(connection: &Connection, query: Option<&str>) -> StorageResult<Search> {
        let Some(query) = query else {
            return Ok(Search {
                pattern: None,
                phrase: None,
            });
        };
        let query = shared::validate::canonical_phone(query).unwrap_or_else(|| query.to_owned());
        let escaped = query
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        // A quoted phrase: every character literal, the trigrams in a row — the rows holding
        // the query, whatever its case (a superset of the LIKE's matches).
        // FTS5 reads the phrase as a C string: one with a NUL in it would be cut short and
        // refused ("unterminated string"), so such a query scans.
        let phrase = (query.chars().count() >= 3 && !query.contains('\0'))
            .then(|| format!("\"{}\"", query.replace('"', "\"\"")));
        let phrase = match phrase {
            Some(phrase) if selective(connection, &phrase)? => Some(phrase),
            _ => None,
        };
        Ok(Search {
            pattern: Some(format!("%{escaped}%")),
            phrase,
        })
    }

    /// The `WHERE` condition, with the named parameters [`Search::params`] binds.
    fn filter(&self) -> String {
        match (&self.pattern, &self.phrase) {
            (None, _) => "1".to_owned(),
            (Some(_), None) => LIKE_FILTER.to_owned(),
            (Some(_), Some(_)) => format!(
                "id IN (SELECT rowid FROM users_search WHERE users_search MATCH :phrase)
                 AND {LIKE_FILTER}"
            ),
        }
    }

    fn params(&self) -> Vec<(&'static str, &dyn rusqlite::ToSql)> {
        let mut params: Vec<(&'static str, &dyn rusqlite::ToSql)> = Vec::new();
        if let Some(pattern) = &self.pattern {
            params.push((":pattern", pattern));
        }
        if let Some(phrase) = &self.phrase {
            params.push((":phrase", phrase));
        }
        params
    }
}

/// Whether at most one user in [`INDEX_SHARE`] holds `phrase`: the index's candidates are
/// counted only that far, so an unselective query costs little more than its scan.
fn selective(connection: &Connection, phrase: &str) -> StorageResult<bool> {
    let cap: i64 = connection
        .prepare_cached("SELECT coalesce(max(id), 0) / ?1 FROM users")?
        .query_row([INDEX_SHARE], |row| row.get(0))?;
    let candidates: i64 = connection
        .prepare_cached(
            "SELECT count(*) FROM (SELECT rowid FROM users_search
                                   WHERE users_search MATCH ?1 LIMIT ?2)",
        )?
        .query_row(rusqlite::params![phrase, cap + 1], |row| row.get(0))?;
    Ok(candidates <= cap)
}

/// Every user the search `query` finds who is not disabled (a grant to "all who match").
pub fn active_matching(connection: &Connection, query: Option<&str>) -> StorageResult<Vec<i64>> {
    let search = Search::new(connection, query)?;
    let mut statement = connection.prepare(&format!(
        "SELECT id FROM users WHERE disabled = 0 AND {} ORDER BY id",
        search.filter()
    ))?;
    let ids = statement.query_map(search.params().as_slice(), |row| row.get(0))?;
    Ok(ids.collect::<Result<_, _>>()?)
}

/// How many users [`active_matching`] would return.
pub fn count_active_matching(connection: &Connection, query: Option<&str>) -> StorageResult<u64> {
    let search = Search::new(connection, query)?;
    Ok(connection.query_row(
        &format!(
            "SELECT count(*) FROM users WHERE disabled = 0 AND {}",
            search.filter()
        ),
        search.params().as_slice(),
        |row| row.get(0),
    )?)
}

/// One page of users whose account, phone, e-mail or nickname contains `query` (all users
/// without one), newest first.
pub fn search(
    connection: &Connection,
    query: Option<&str>,
    request: shared::pagination::PageRequest,
) -> StorageResult<(Vec<UserRow>, u64)> {
    let search = Search::new(connection, query)?;
    let filter = search.filter();
    let total: u64 = connection.query_row(
        &format!("SELECT count(*) FROM users WHERE {filter}"),
        search.params().as_slice(),
        |row| row.get(0),
    )?;
    let mut statement = connection.prepare(&format!(
        "SELECT {COLUMNS} FROM users WHERE {filter} ORDER BY id DESC LIMIT :limit OFFSET :offset"
    ))?;
    let (limit, offset) = (request.limit, request.offset());
    let mut params = search.params();
    params.push((":limit", &limit));
    params.push((":offset", &offset));
    let rows = statement.query_map(params.as_slice(), from_row)?;
    Ok((rows.collect::<Result<_, _>>()?, total))
}

pub fn set_disabled(connection: &Connection, user_id: i64, disabled: bool) -> StorageResult<()> {
    connection.execute(
        "UPDATE users SET disabled = ?2 WHERE id = ?1",
        rusqlite::params![user_id, disabled],
    )?;
    Ok(())
}

/// Every user id that is not disabled.
pub fn active_ids(connection: &Connection) -> StorageResult<Vec<i64>> {
    let mut statement =
        connection.prepare("SELECT id FROM users WHERE disabled = 0 ORDER BY id")?;
    let ids = statement.query_map([], |row| row.get(0))?;
    Ok(ids.collect::<Result<_, _>>()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::migrate;

    fn user(connection: &Connection, name: &str) -> i64 {
        let user = NewUser {
            account: Some(name.to_owned()),
            nickname: name.to_owned(),
            ..NewUser::default()
        };
        insert(connection, &user, 0).unwrap()
    }

    fn earned_by_entry(connection: &Connection, user_id: i64) -> Vec<i64> {
        connection
            .prepare("SELECT earned FROM points_records WHERE user_id = ?1 ORDER BY id")
            .unwrap()
            .query_map([user_id], |row| row.get(0))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap()
    }

    /// The ids `query` finds through [`search`] (all on one page), newest first.
    fn found(connection: &Connection, query: &str) -> Vec<i64> {
        let request = shared::pagination::PageRequest {
            page: 1,
            limit: 100,
        };
        let (rows, total) = search(connection, Some(query), request).unwrap();
        assert_eq!(total as usize, rows.len(), "{query}");
        assert_eq!(
            count_active_matching(connection, Some(query)).unwrap() as usize,
            rows.len()
        );
        rows.iter().map(|row| row.id).collect()
    }

    /// The ids a plain scan of the four fields finds (the search before migration 0018).
    fn scanned(connection: &Connection, query: &str) -> Vec<i64> {
        let needle = query.to_ascii_lowercase();
        let mut statement = connection
            .prepare("SELECT id, account, phone, email, nickname FROM users ORDER BY id DESC")
            .unwrap();
        let rows = statement
            .query_map([], |row| {
                let fields: Vec<Option<String>> = (1..=4)
                    .map(|i| row.get(i))
                    .collect::<rusqlite::Result<_>>()?;
                Ok((row.get::<_, i64>(0)?, fields))
            })
            .unwrap();
        rows.map(Result::unwrap)
            .filter(|(_, fields)| {
                fields
                    .iter()
                    .flatten()
                    .any(|field| field.to_ascii_lowercase().contains(&needle))
            })
            .map(|(id, _)| id)
            .collect()
    }

    #[test]
    fn the_user_search_finds_what_a_scan_finds_by_its_index() {
        let mut connection = Connection::open_in_memory().unwrap();
        migrate::apply(&mut connection).unwrap();
        let people = [
            (
                Some("alice"),
                Some("13800001234"),
                Some("Alice.W@example.com"),
                "小爱",
            ),
            (Some("bob_99"), Some("13900005678"), None, "Bob%"),
            (
                None,
                Some("13800009999"),
                Some("carol@example.org"),
                "卡罗尔",
            ),
            (Some("dave"), None, Some("d@example.com"), "小爱同学"),
            (Some("quote"), None, None, "say \"hi\" OR NEAR(x)*^"),
        ];
        for (account, phone, email, nickname) in people {
            let user = NewUser {
                account: account.map(str::to_owned),
                phone: phone.map(str::to_owned),
                email: email.map(str::to_owned),
                nickname: nickname.to_owned(),
                password_hash: None,
            };
            insert(&connection, &user, 0).unwrap();
        }
        // Enough others that a rare part is worth the index (`INDEX_SHARE`).
        for i in 0..40 {
            user(&connection, &format!("filler{i}"));
        }
        let queries = [
            "filler",
            "filler1",
            "ler3",
            "alice",
            "ALICE",
            "ice.w@",
            "1380000",
            "138 0000 1234",
            "+86 138-0000-9999",
            "1234",
            "example",
            "小爱",
            "小爱同学",
            "爱同学",
            "b_9",
            "bob%",
            "b%",
            "_99",
            "%",
            "_",
            "ob",
            "a",
            "",
            "\\",
            "\"",
            "com13",
            "9999carol",
            "e.com",
            "d@e",
            "nobody",
            "\"hi\"",
            "say \"",
            " OR NEAR(",
            "NEAR(x)*^",
            "*^",
            "x)*",
            "\"\"\"",
        ];
        for query in queries {
            let canonical = shared::validate::canonical_phone(query);
            let expected = scanned(&connection, canonical.as_deref().unwrap_or(query));
            assert_eq!(found(&connection, query), expected, "{query:?}");
        }
        // A NUL is searched for by the scan, not handed to FTS5 (which refused it: a 500).
        for query in ["ab\0cd", "alice\0", "\0\0\0"] {
            let request = shared::pagination::PageRequest { page: 1, limit: 10 };
            search(&connection, Some(query), request).unwrap();
            active_matching(&connection, Some(query)).unwrap();
        }
        // No match across two fields: the end of one and the start of the next.
        assert!(found(&connection, "1234alice").is_empty());
        assert!(found(&connection, "aliceAlice").is_empty());

        // Writes keep the index right: a changed nickname, a bound phone, a new user.
        connection
            .execute(
                "UPDATE users SET nickname = '新名字', phone = '13700000000' WHERE id = 2",
                [],
            )
            .unwrap();
        assert_eq!(found(&connection, "新名字"), [2]);
        assert_eq!(found(&connection, "1370000"), [2]);
        assert!(found(&connection, "Bob%").is_empty());
        assert_eq!(found(&connection, "13900005678"), Vec::<i64>::new());
        let eve = user(&connection, "eve_smith");
        assert_eq!(found(&connection, "smith"), [eve]);
        assert_eq!(active_matching(&connection, Some("smith")).unwrap(), [eve]);

        // A query of three characters or more is an index read, not a scan of the users.
        let search = Search::new(&connection, Some("alice")).unwrap();
        assert!(search.phrase.is_some());
        // A part most users hold is cheaper to scan for.
        assert!(
            Search::new(&connection, Some("filler"))
                .unwrap()
                .phrase
                .is_none()
        );
        let plan: Vec<String> = connection
            .prepare(&format!(
                "EXPLAIN QUERY PLAN SELECT id FROM users WHERE {} ORDER BY id DESC",
                search.filter()
            ))
            .unwrap()
            .query_map(search.params().as_slice(), |row| row.get(3))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert!(
            plan.iter().any(|step| step.contains("VIRTUAL TABLE INDEX")),
            "{plan:?}"
        );
    }

    #[test]
    fn migration_18_indexes_the_users_that_were_there() {
        let mut connection = Connection::open_in_memory().unwrap();
        migrate::apply_to(&mut connection, 17).unwrap();
        let alice = user(&connection, "alice");
        migrate::apply(&mut connection).unwrap();
        assert_eq!(found(&connection, "lic"), [alice]);
    }

    #[test]
    fn the_wallet_counts_what_was_ever_earned_without_reading_the_history() {
        let mut connection = Connection::open_in_memory().unwrap();
        migrate::apply(&mut connection).unwrap();
        let (alice, bob) = (user(&connection, "alice"), user(&connection, "bob"));
        assert_eq!(wallet(&connection, alice).unwrap(), Wallet::default());
        for (who, delta) in [(alice, 100), (bob, 7), (alice, -30), (alice, 50), (bob, -7)] {
            ledgers::post(&connection, Ledger::Points, who, delta, "test", 0).unwrap();
        }
        // An entry written by SQL alone (an operator's fix, a test fixture) is counted too.
        connection
            .execute(
                "INSERT INTO points_records (user_id, number, surplus, describe, created_at)
                 VALUES (?1, 5, 125, 'sql', 0)",
                [alice],
            )
            .unwrap();
        ledgers::post(&connection, Ledger::Balance, alice, 990, "test", 0).unwrap();
        assert_eq!(
            wallet(&connection, alice).unwrap(),
            Wallet {
                points: 125,
                history_points: 155,
                balance_cents: 990,
            }
        );
        assert_eq!(earned_by_entry(&connection, alice), [100, 100, 150, 155]);
        assert_eq!(
            wallet(&connection, bob).unwrap(),
            Wallet {
                points: 0,
                history_points: 7,
                balance_cents: 0,
            }
        );
        // The read is the latest entry by index, not a sum over the history.
        let plan: Vec<String> = connection
            .prepare(
                "EXPLAIN QUERY PLAN SELECT surplus, earned FROM points_records
                 WHERE user_id = ?1 ORDER BY id DESC LIMIT 1",
            )
            .unwrap()
            .query_map([alice], |row| row.get(3))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert!(
            plan.iter()
                .all(|step| step.contains("USING INDEX points_records_by_user")),
            "{plan:?}"
        );
    }

    #[test]
    fn migration_16_fills_in_what_existing_entries_had_earned() {
        let mut connection = Connection::open_in_memory().unwrap();
        migrate::apply_to(&mut connection, 15).unwrap();
        let (alice, bob) = (user(&connection, "alice"), user(&connection, "bob"));
        for (who, number, surplus) in [
            (alice, 10, 10),
            (bob, 3, 3),
            (alice, -4, 6),
            (alice, 8, 14),
            (bob, 2, 5),
        ] {
            connection
                .execute(
                    "INSERT INTO points_records (user_id, number, surplus, describe, created_at)
                     VALUES (?1, ?2, ?3, 'before', 0)",
                    [who, number, surplus],
                )
                .unwrap();
        }
        migrate::apply(&mut connection).unwrap();
        assert_eq!(earned_by_entry(&connection, alice), [10, 10, 18]);
        assert_eq!(earned_by_entry(&connection, bob), [3, 5]);
        assert_eq!(wallet(&connection, alice).unwrap().history_points, 18);
        assert_eq!(wallet(&connection, alice).unwrap().points, 14);
    }
}
