"""``payments_post_payment`` finds and locks an account by its own number in one statement.

Each statement of the function costs an executor start-up in every call: the look-up by new
or legacy number (``accounts_find_account``: a union of two joins, sorted, limited) and the
lock were two, the larger of the statements a payment runs. A payment to an account's own
number (most of them) now finds and locks it with one index look-up; a number that is no
account's is looked up among the legacy numbers as before, then locked. Sequential scans stay
off for the function's duration (0003).
"""

from importlib import import_module

from django.db import migrations

FUNCTION = r"""
CREATE OR REPLACE FUNCTION payments_post_payment(
    p_channel_id bigint, p_utility_code text, p_number text, p_number_given text,
    p_transaction_id text, p_amount numeric, p_currency text, p_method text,
    p_received_at timestamptz, p_value_date date, p_now timestamptz, p_bill_number text,
    p_account_number_given text, p_collector text, p_device text, p_till_session_id bigint,
    p_created_by text, p_description text, p_accepts_credit boolean,
    OUT o_outcome text, OUT o_payment_id bigint, OUT o_account_id bigint,
    OUT o_account_number text, OUT o_entry_id bigint, OUT o_balance_after numeric,
    OUT o_debt numeric, OUT o_settled_ids bigint[], OUT o_settled_types text[],
    OUT o_settled_sources text[], OUT o_settled_amounts numeric[],
    OUT o_other_account_id bigint, OUT o_other_amount numeric, OUT o_other_currency text
)
LANGUAGE plpgsql SET enable_seqscan = off AS $$
DECLARE
    v_credit numeric;
    v_bill_ids bigint[];
BEGIN
    -- The lock serialises the account's postings; each statement below sees what the previous
    -- holder committed. An account's own number is found and locked in one statement; only a
    -- number that is not one is looked up among the legacy numbers (a new number wins, as in
    -- accounts_find_account).
    SELECT a.id, a.number INTO o_account_id, o_account_number
    FROM accounts_account a
    JOIN accounts_utility u ON u.id = a.utility_id
    WHERE a.number = p_number AND (p_utility_code IS NULL OR u.code = p_utility_code)
    FOR UPDATE OF a;
    IF NOT FOUND THEN
        SELECT f.account_id, f.number INTO o_account_id, o_account_number
        FROM accounts_find_account(p_number, p_number_given, p_utility_code) f;
        IF NOT FOUND THEN
            o_outcome := 'no-account';
            RETURN;
        END IF;
        PERFORM 1 FROM accounts_account a WHERE a.id = o_account_id FOR UPDATE;
    END IF;
    SELECT p.id, p.account_id, p.amount, p.currency
    INTO o_payment_id, o_other_account_id, o_other_amount, o_other_currency
    FROM payments_payment p
    WHERE p.channel_id = p_channel_id AND p.external_reference = p_transaction_id;
    IF FOUND THEN
        o_outcome := CASE
            WHEN o_other_account_id = o_account_id AND o_other_amount = p_amount
                 AND o_other_currency = p_currency THEN 'replayed'
            ELSE 'reused' END;
        RETURN;
    END IF;
    SELECT COALESCE(SUM(i.open) FILTER (WHERE i.side = 'd'), 0),
           COALESCE(SUM(i.open) FILTER (WHERE i.side = 'c'), 0),
           array_agg(i.entry_id ORDER BY i.due_date NULLS LAST, i.value_date, i.entry_id)
               FILTER (WHERE i.side = 'd' AND i.source_type = 'bill'
                       AND i.source_id = p_bill_number)
    INTO o_debt, v_credit, v_bill_ids
    FROM ledger_open_items(ARRAY[o_account_id]) i;
    IF p_bill_number <> '' AND v_bill_ids IS NULL THEN
        IF NOT EXISTS (
            SELECT 1 FROM accounts_ledgerentry e
            WHERE e.account_id = o_account_id AND e.source_type = 'bill'
              AND e.source_id = p_bill_number AND e.amount > 0
        ) THEN
            o_outcome := 'unknown-bill';
            RETURN;
        END IF;
        IF NOT p_accepts_credit THEN
            o_outcome := 'bill-not-open';
            RETURN;
        END IF;
    END IF;
    IF NOT p_accepts_credit THEN
        IF o_debt = 0 THEN
            o_outcome := 'nothing-owed';
            RETURN;
        END IF;
        IF p_amount > o_debt THEN
            o_outcome := 'exceeds-debt';
            RETURN;
        END IF;
    END IF;
    o_payment_id := nextval('payments_payment_id_seq');
    INSERT INTO accounts_ledgerentry (account_id, kind, amount, currency, posted_at, value_date,
        due_date, source_type, source_id, description, created_by)
    VALUES (o_account_id, 'payment', -p_amount, p_currency, p_now, p_value_date, NULL,
        'payment', o_payment_id::text, left(p_description, 200), p_created_by)
    RETURNING id INTO o_entry_id;
    SELECT array_agg(s.debit_entry_id ORDER BY s.allocation_id),
           array_agg(d.source_type::text ORDER BY s.allocation_id),
           array_agg(d.source_id::text ORDER BY s.allocation_id),
           array_agg(s.amount ORDER BY s.allocation_id)
    INTO o_settled_ids, o_settled_types, o_settled_sources, o_settled_amounts
    FROM ledger_settle(ARRAY[o_account_id], p_now, COALESCE(v_bill_ids, '{}'), '{}') s
    JOIN accounts_ledgerentry d ON d.id = s.debit_entry_id
    WHERE s.credit_entry_id = o_entry_id;
    o_balance_after := o_debt - v_credit - p_amount;
    INSERT INTO payments_payment (id, channel_id, external_reference, account_id,
        account_number_given, amount, currency, method, received_at, value_date, posted_at,
        bill_reference, collected_by, device, till_session_id, ledger_entry_id, balance_after,
        created_by)
    VALUES (o_payment_id, p_channel_id, p_transaction_id, o_account_id, p_account_number_given,
        p_amount, p_currency, p_method, p_received_at, p_value_date, p_now, p_bill_number,
        p_collector, p_device, p_till_session_id, o_entry_id, o_balance_after, p_created_by);
    o_outcome := 'posted';
END
$$;
"""

PREVIOUS = import_module("ampere.payments.migrations.0002_post_payment_function").FUNCTION
SIGNATURE = import_module("ampere.payments.migrations.0003_post_payment_index_reads").SIGNATURE


class Migration(migrations.Migration):
    dependencies = [("payments", "0003_post_payment_index_reads")]

    operations = [
        migrations.RunSQL(
            FUNCTION, PREVIOUS + f"ALTER FUNCTION {SIGNATURE} SET enable_seqscan = off;"
        )
    ]
