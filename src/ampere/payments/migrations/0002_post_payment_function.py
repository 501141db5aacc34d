"""Posting a payment in one round trip: ``payments_post_payment`` finds and locks the account,
reads its open items, refuses a double collection where the channel's policy says so, records
the payment, appends its ledger entry and settles open items (the bill paid first, then oldest
due first). A refusal is returned as an outcome (nothing is written);
``payments.operations.post_payment`` turns it into the domain's exception with its message.

- An account's own number (most payments) is found and locked in one statement; a number that
  is no account's is looked up among the legacy numbers (``accounts_find_account``: a new
  number wins), then locked. Each statement costs an executor start-up in every call.
- The payment row is inserted first, ``ON CONFLICT DO NOTHING`` on the channel's transaction
  id: the unique index's own probe finds an id seen before, whatever plan a connection holds.
  Only an id seen before (nothing is written then) or a refusal looks it up, so that a retry of
  a posted payment is still answered as replayed whatever is owed now. The payment row names
  its ledger entry by an id drawn ahead from the entry's sequence (the foreign key is checked
  at commit). A concurrent post of the same id waits for the first and is answered as its
  replay.
- Sequential scans are off for the function's duration. A connection caches the plans of the
  function's statements the first time it calls it (generic plans); a plan made while the
  payments table was small scanned it, and kept doing so as the table grew. Every statement
  has an index to read by (measured on 6,000 payments into an empty table: 0.86 ms of
  PostgreSQL CPU per payment before, 0.51 ms after).
- The index of a channel's payments of a day leads with the day: with the channel first, a
  connection that planned the look-up of a transaction id (channel, reference) while the table
  was small read by it and filtered every payment of the channel (seen in the payments
  benchmark: 21,136 rows for one retry, 1.6 ms). With the day first only the unique (channel,
  reference) index serves that look-up; reconciliation's day of a channel reads by either.
"""

from django.db import migrations, models

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
    v_refusal text;
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
            v_refusal := 'unknown-bill';
        ELSIF NOT p_accepts_credit THEN
            v_refusal := 'bill-not-open';
        END IF;
    END IF;
    IF v_refusal IS NULL AND NOT p_accepts_credit THEN
        IF o_debt = 0 THEN
            v_refusal := 'nothing-owed';
        ELSIF p_amount > o_debt THEN
            v_refusal := 'exceeds-debt';
        END IF;
    END IF;
    IF v_refusal IS NULL THEN
        -- The payment row first: the unique index on the channel's transaction id is probed
        -- by the insert itself. Its ledger entry's id is drawn ahead (the foreign key is
        -- checked at commit).
        o_payment_id := nextval('payments_payment_id_seq');
        o_entry_id := nextval('accounts_ledgerentry_id_seq');
        o_balance_after := o_debt - v_credit - p_amount;
        INSERT INTO payments_payment (id, channel_id, external_reference, account_id,
            account_number_given, amount, currency, method, received_at, value_date, posted_at,
            bill_reference, collected_by, device, till_session_id, ledger_entry_id,
            balance_after, created_by)
        VALUES (o_payment_id, p_channel_id, p_transaction_id, o_account_id,
            p_account_number_given, p_amount, p_currency, p_method, p_received_at, p_value_date,
            p_now, p_bill_number, p_collector, p_device, p_till_session_id, o_entry_id,
            o_balance_after, p_created_by)
        ON CONFLICT ON CONSTRAINT payment_once_per_channel_reference DO NOTHING;
    END IF;
    IF v_refusal IS NOT NULL OR NOT FOUND THEN
        -- Refused, or the channel's transaction id is taken: nothing is written. An id seen
        -- before is answered as replayed (the same payment) or reused (another one), whatever
        -- is owed now.
        o_entry_id := NULL;
        o_balance_after := NULL;
        SELECT p.id, p.account_id, p.amount, p.currency
        INTO o_payment_id, o_other_account_id, o_other_amount, o_other_currency
        FROM payments_payment p
        WHERE p.channel_id = p_channel_id AND p.external_reference = p_transaction_id;
        IF FOUND THEN
            o_outcome := CASE
                WHEN o_other_account_id = o_account_id AND o_other_amount = p_amount
                     AND o_other_currency = p_currency THEN 'replayed'
                ELSE 'reused' END;
        ELSE
            o_outcome := v_refusal;
        END IF;
        RETURN;
    END IF;
    INSERT INTO accounts_ledgerentry (id, account_id, kind, amount, currency, posted_at,
        value_date, due_date, source_type, source_id, description, created_by)
    VALUES (o_entry_id, o_account_id, 'payment', -p_amount, p_currency, p_now, p_value_date,
        NULL, 'payment', o_payment_id::text, left(p_description, 200), p_created_by);
    SELECT array_agg(s.debit_entry_id ORDER BY s.allocation_id),
           array_agg(d.source_type::text ORDER BY s.allocation_id),
           array_agg(d.source_id::text ORDER BY s.allocation_id),
           array_agg(s.amount ORDER BY s.allocation_id)
    INTO o_settled_ids, o_settled_types, o_settled_sources, o_settled_amounts
    FROM ledger_settle(ARRAY[o_account_id], p_now, COALESCE(v_bill_ids, '{}'), '{}') s
    JOIN accounts_ledgerentry d ON d.id = s.debit_entry_id
    WHERE s.credit_entry_id = o_entry_id;
    o_outcome := 'posted';
END
$$;
"""


DROP = """
DROP FUNCTION IF EXISTS payments_post_payment(bigint, text, text, text, text, numeric, text,
    text, timestamptz, date, timestamptz, text, text, text, text, bigint, text, text, boolean);
"""


class Migration(migrations.Migration):
    dependencies = [
        ("payments", "0001_initial"),
        ("accounts", "0006_drop_allocation_account_index"),
    ]

    operations = [
        migrations.RunSQL(FUNCTION, DROP),
        migrations.RemoveIndex(
            model_name="payment",
            name="payment_channel_day",
        ),
        migrations.AddIndex(
            model_name="payment",
            index=models.Index(fields=["value_date", "channel"], name="payment_day_channel"),
        ),
    ]
