//! The double-entry fee ledger. Integer minor units only. Accounts:
//! `sponsor:NAME`, `escrow`, `hospital:NAME`, `platform`, one per currency.
//! Every transaction's legs sum to zero. Posting a job moves the fee from the
//! sponsor into escrow; delivery splits it 70% hospital / 30% platform, the
//! platform share rounded down so any remainder goes to the hospital;
//! decline, failure and refusal by the gate return it to the sponsor.

use crate::db::{new_id, now, HubDb};
use crate::error::{HubError, Result};
use serde::{Deserialize, Serialize};
use sqlx::Row;

/// Platform share in percent; the hospital receives the rest.
pub const PLATFORM_PERCENT: i64 = 30;

/// Splits a fee into (hospital, platform) shares: platform = ⌊fee·30/100⌋,
/// hospital = fee − platform (so the hospital gets any remainder).
pub fn split_fee(fee_minor: i64) -> (i64, i64) {
    let platform = fee_minor * PLATFORM_PERCENT / 100;
    (fee_minor - platform, platform)
}

/// One leg of a ledger transaction.
pub(crate) struct Leg<'a> {
    pub account: &'a str,
    pub kind: &'a str,
    pub amount_minor: i64,
}

/// Writes one balanced transaction inside the caller's database transaction.
pub(crate) async fn post(
    conn: &mut sqlx::AnyConnection,
    job_id: &str,
    kind: &str,
    currency: &str,
    legs: &[Leg<'_>],
) -> Result<()> {
    if legs.iter().map(|l| l.amount_minor).sum::<i64>() != 0 {
        return Err(HubError::Internal(format!(
            "ledger transaction {kind} for {job_id} does not sum to zero"
        )));
    }
    let tx_id = new_id("ltx");
    sqlx::query("INSERT INTO ledger_txs (id, job_id, kind, created_at) VALUES ($1, $2, $3, $4)")
        .bind(&tx_id)
        .bind(job_id)
        .bind(kind)
        .bind(now())
        .execute(&mut *conn)
        .await?;
    for leg in legs {
        sqlx::query("INSERT INTO accounts (name, kind, currency) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING")
            .bind(leg.account)
            .bind(leg.kind)
            .bind(currency)
            .execute(&mut *conn)
            .await?;
        sqlx::query("INSERT INTO ledger_entries (tx_id, account, currency, amount_minor) VALUES ($1, $2, $3, $4)")
            .bind(&tx_id)
            .bind(leg.account)
            .bind(currency)
            .bind(leg.amount_minor)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// Balance of one account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountBalance {
    /// `sponsor:NAME`, `escrow`, `hospital:NAME` or `platform`.
    pub name: String,
    /// `sponsor`, `escrow`, `hospital` or `platform`.
    pub kind: String,
    /// ISO 4217 code.
    pub currency: String,
    /// Balance in minor units (a sponsor's is negative: what it has paid in).
    pub balance_minor: i64,
}

/// Balances plus the reconciliation check.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LedgerReport {
    /// True when every check below passed.
    pub balanced: bool,
    /// Every account, sorted by currency then name.
    pub accounts: Vec<AccountBalance>,
    /// What failed, in words (empty when balanced).
    pub problems: Vec<String>,
}

impl HubDb {
    /// Balances and reconciliation: every transaction sums to zero per
    /// currency; escrow holds exactly the fees of jobs still open (posted,
    /// offered, accepted, running); hospital and platform balances equal the
    /// splits of delivered jobs; no escrow, hospital or platform balance is
    /// negative.
    pub async fn ledger_report(&self) -> Result<LedgerReport> {
        let mut problems = Vec::new();
        let rows = sqlx::query(
            "SELECT a.name, a.kind, a.currency, CAST(COALESCE(SUM(e.amount_minor), 0) AS BIGINT) AS balance
             FROM accounts a LEFT JOIN ledger_entries e ON e.account = a.name AND e.currency = a.currency
             GROUP BY a.name, a.kind, a.currency ORDER BY a.currency, a.name",
        )
        .fetch_all(self.pool())
        .await?;
        let mut accounts = Vec::new();
        for r in rows {
            accounts.push(AccountBalance {
                name: r.try_get("name")?,
                kind: r.try_get("kind")?,
                currency: r.try_get("currency")?,
                balance_minor: r.try_get("balance")?,
            });
        }
        let unbalanced = sqlx::query(
            "SELECT tx_id, currency FROM ledger_entries GROUP BY tx_id, currency HAVING CAST(SUM(amount_minor) AS BIGINT) <> 0",
        )
        .fetch_all(self.pool())
        .await?;
        for r in unbalanced {
            let id: String = r.try_get("tx_id")?;
            problems.push(format!("ledger transaction {id} does not sum to zero"));
        }
        let open = sqlx::query(
            "SELECT currency, CAST(SUM(fee_minor) AS BIGINT) AS total FROM jobs
             WHERE state IN ('posted', 'offered', 'accepted', 'running') GROUP BY currency",
        )
        .fetch_all(self.pool())
        .await?;
        let mut currencies: std::collections::BTreeSet<String> =
            accounts.iter().map(|a| a.currency.clone()).collect();
        let mut open_by_currency = std::collections::BTreeMap::new();
        for r in open {
            let c: String = r.try_get("currency")?;
            currencies.insert(c.clone());
            open_by_currency.insert(c, r.try_get::<i64, _>("total")?);
        }
        let delivered =
            sqlx::query("SELECT currency, fee_minor FROM jobs WHERE state = 'delivered'")
                .fetch_all(self.pool())
                .await?;
        let mut earned: std::collections::BTreeMap<String, (i64, i64)> = Default::default();
        for r in delivered {
            let (h, p) = split_fee(r.try_get("fee_minor")?);
            let e = earned.entry(r.try_get("currency")?).or_default();
            e.0 += h;
            e.1 += p;
        }
        for c in &currencies {
            let sum_kind = |kind: &str| {
                accounts
                    .iter()
                    .filter(|a| &a.currency == c && a.kind == kind)
                    .map(|a| a.balance_minor)
                    .sum::<i64>()
            };
            let escrow = sum_kind("escrow");
            let expected = open_by_currency.get(c).copied().unwrap_or(0);
            if escrow != expected {
                problems.push(format!(
                    "{c}: escrow holds {escrow} but open jobs' fees total {expected}"
                ));
            }
            let (h, p) = earned.get(c).copied().unwrap_or((0, 0));
            if sum_kind("hospital") != h {
                problems.push(format!(
                    "{c}: hospitals hold {} but delivered jobs' hospital shares total {h}",
                    sum_kind("hospital")
                ));
            }
            if sum_kind("platform") != p {
                problems.push(format!(
                    "{c}: platform holds {} but delivered jobs' platform shares total {p}",
                    sum_kind("platform")
                ));
            }
            let total: i64 = accounts
                .iter()
                .filter(|a| &a.currency == c)
                .map(|a| a.balance_minor)
                .sum();
            if total != 0 {
                problems.push(format!("{c}: balances sum to {total}, not zero"));
            }
        }
        for a in &accounts {
            if a.kind != "sponsor" && a.balance_minor < 0 {
                problems.push(format!(
                    "{} ({}) is negative: {}",
                    a.name, a.currency, a.balance_minor
                ));
            }
        }
        Ok(LedgerReport {
            balanced: problems.is_empty(),
            accounts,
            problems,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_gives_remainder_to_hospital() {
        assert_eq!(split_fee(100), (70, 30));
        assert_eq!(split_fee(1), (1, 0));
        assert_eq!(split_fee(7), (5, 2));
        assert_eq!(split_fee(250_000), (175_000, 75_000));
        for fee in 0..1000 {
            let (h, p) = split_fee(fee);
            assert_eq!(h + p, fee);
            assert!(h * 30 >= p * 70);
        }
    }
}
