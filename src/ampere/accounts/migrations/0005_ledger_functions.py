"""The ledger's rules as SQL functions, so a posting path can run in one round trip and every
caller (Python or SQL) shares one implementation:

- ``accounts_find_account``: an account by its new or legacy number (a new number wins);
- ``ledger_open_items``: the open debits and credits of accounts;
- ``ledger_settle``: allocate open credits to open debits (debits by due date, undated last;
  credits oldest first; preferred entries first), inserting the allocations.
"""

from django.db import migrations

FUNCTIONS = r"""
CREATE OR REPLACE FUNCTION accounts_find_account(p_number text, p_given text, p_utility_code text)
RETURNS TABLE (by_legacy integer, account_id bigint, number text, utility_id bigint,
               utility_code text, currency text)
LANGUAGE sql STABLE AS $$
    SELECT found.* FROM (
        SELECT 0, a.id, a.number::text, u.id, u.code::text, u.currency::text
        FROM accounts_account a
        JOIN accounts_utility u ON u.id = a.utility_id
        WHERE a.number = p_number AND (p_utility_code IS NULL OR u.code = p_utility_code)
        UNION ALL
        SELECT 1, a.id, a.number::text, u.id, u.code::text, u.currency::text
        FROM accounts_utility u
        JOIN accounts_legacyaccountnumber l
          ON l.utility_id = u.id AND l.number IN (p_given, p_number)
        JOIN accounts_account a ON a.id = l.account_id
        WHERE p_utility_code IS NULL OR u.code = p_utility_code
    ) found
    ORDER BY 1
    LIMIT 1
$$;

-- A debit's open amount is its amount less its allocations (allocations name it as debit), a
-- credit's likewise as credit: one scan of the accounts' entries, one index probe each.
CREATE OR REPLACE FUNCTION ledger_open_items(p_accounts bigint[])
RETURNS TABLE (side text, account_id bigint, entry_id bigint, source_type text, source_id text,
               due_date date, value_date date, open numeric)
LANGUAGE sql STABLE AS $$
    SELECT * FROM (
        SELECT CASE WHEN e.amount > 0 THEN 'd' ELSE 'c' END, e.account_id, e.id,
               e.source_type::text, e.source_id::text, e.due_date, e.value_date,
               abs(e.amount) - COALESCE(CASE
                   WHEN e.amount > 0 THEN (SELECT SUM(a.amount) FROM accounts_ledgerallocation a
                                           WHERE a.debit_entry_id = e.id)
                   ELSE (SELECT SUM(a.amount) FROM accounts_ledgerallocation a
                         WHERE a.credit_entry_id = e.id)
               END, 0) AS open
        FROM accounts_ledgerentry e
        WHERE e.account_id = ANY(p_accounts) AND e.amount <> 0
    ) items
    WHERE items.open > 0
$$;

-- Greedy allocation, set-based: lay each account's open debits (settling order) and open
-- credits (oldest first) end to end on one axis; a credit pays a debit by the overlap of
-- their intervals. Returns the allocations made, in the order they were inserted.
CREATE OR REPLACE FUNCTION ledger_settle(
    p_accounts bigint[], p_now timestamptz, p_prefer_debits bigint[], p_prefer_credits bigint[]
)
RETURNS TABLE (allocation_id bigint, account_id bigint, debit_entry_id bigint,
               credit_entry_id bigint, amount numeric)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    WITH items AS (
        SELECT * FROM ledger_open_items(p_accounts)
    ), dr AS (
        SELECT i.account_id, i.entry_id, i.open,
               SUM(i.open) OVER (
                   PARTITION BY i.account_id
                   ORDER BY COALESCE(array_position(p_prefer_debits, i.entry_id), 2147483647),
                            i.due_date NULLS LAST, i.value_date, i.entry_id) - i.open AS lo
        FROM items i WHERE i.side = 'd'
    ), cr AS (
        SELECT i.account_id, i.entry_id, i.open,
               SUM(i.open) OVER (
                   PARTITION BY i.account_id
                   ORDER BY COALESCE(array_position(p_prefer_credits, i.entry_id), 2147483647),
                            i.value_date, i.entry_id) - i.open AS lo
        FROM items i WHERE i.side = 'c'
    ), ins AS (
        INSERT INTO accounts_ledgerallocation (account_id, debit_entry_id, credit_entry_id,
            amount, allocated_at)
        SELECT dr.account_id, dr.entry_id, cr.entry_id,
               LEAST(dr.lo + dr.open, cr.lo + cr.open) - GREATEST(dr.lo, cr.lo), p_now
        FROM dr JOIN cr ON cr.account_id = dr.account_id
            AND cr.lo < dr.lo + dr.open AND dr.lo < cr.lo + cr.open
        ORDER BY dr.account_id, dr.lo, cr.lo
        RETURNING accounts_ledgerallocation.id, accounts_ledgerallocation.account_id,
                  accounts_ledgerallocation.debit_entry_id,
                  accounts_ledgerallocation.credit_entry_id, accounts_ledgerallocation.amount
    )
    SELECT * FROM ins ORDER BY 1;
END
$$;
"""

DROP = """
DROP FUNCTION IF EXISTS ledger_settle(bigint[], timestamptz, bigint[], bigint[]);
DROP FUNCTION IF EXISTS ledger_open_items(bigint[]);
DROP FUNCTION IF EXISTS accounts_find_account(text, text, text);
"""


class Migration(migrations.Migration):
    dependencies = [("accounts", "0004_drop_duplicate_ledger_indexes")]

    operations = [migrations.RunSQL(FUNCTIONS, DROP)]
