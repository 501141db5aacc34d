"""The pure rating engine: no Django, no database; a Decimal reference and a vectorised batch.

Modules
-------
``model``      frozen values: ``TariffVersion`` (period, instrument, ``Pricing``) and its
               components (``EnergyCharge`` with tiers and TOU periods, ``FixedCharge``,
               ``DemandCharge``, ``BaselineCredit``, ``EventCredit``, ``Discount``,
               ``MinimumCharge``), ``TouSchedule``, ``Seasons``, ``Baseline``, ``TaxSchedule``;
               inputs ``RatingContext`` (the agreement's terms as plain values),
               ``RegisterUsage``, ``IntervalUsage``; outputs ``RatedBill`` of ``PricedLine``.
``parse``      plain dicts (the YAML in ``rating/data``, the JSON stored per version) → model;
               ``TariffDataError`` names the bad field by its dotted path.
``plan``       splitting a billing period into segments (version, season, tax rate), the EVN
               register-read rule for kWh (``share_register``) and the width denominator policy.
``reference``  ``rate_register`` / ``rate_intervals``: one bill, Decimal money, every line
               ``quantity × unit price × proration`` rounded half-up once; taxes per rate on the
               sum of the rounded lines, rounded half-up once.
``batch``      the same rules on NumPy integer arrays (below); equal to ``reference`` line for
               line, proven by the Hypothesis tests in ``tests/unit/rating/engine``.
``urdb``       OpenEI URDB records → version documents (with warnings for what is not priced).

The batch API (for bill runs)
-----------------------------
One call prices every account of one tariff: the engine groups accounts by billing period, plans
each distinct period once (so a price change inside a cycle costs one plan, not one per account)
and computes each segment's lines for the whole group with integer arithmetic.

Register reads::

    result = rate_register_batch(
        versions=versions,            # all versions of the tariff (queries.get_versions)
        taxes=taxes,                  # queries.get_tax_schedule(owner=tariff's utility_code)
        accounts=RegisterBatch(
            period_start=..., period_end=...,      # datetime64[D], end exclusive
            kwh_wh=...,                    # int64 Wh, or tou_wh={"peak": ..., ...}
                                           # (split over segments by days), or
                                           # tou_wh_by_segment={"peak": int64[n, segments]}
                                           # (each segment of plan_period its own Wh)
            max_w=..., max_w_by_period={...},      # int64 W, where the tariff has demand charges
            household_norm=...,            # int64 hundredths: 100 = 1 household, 75 = 3 renters
            short_lease_undeclared=..., region=..., all_electric=...,
            programs={"care": bool[], "fera": bool[], "medical_baseline": bool[], "sdp": bool[]},
            sdp_tons_milli=..., sdp_event_dates=frozenset(...),
        ),
        language="vi",
    )
    result.total, result.subtotal, result.tax_total   # int64[n] in minor units (đồng, cents)
    result.rejected                    # {row: InvalidInput}: not priced; quarantine them
    for group in result.groups:                        # accounts with the same period
        group.rows                                     # their input rows
        for column in group.columns:                   # a bill line, for every account of it
            column.code, column.kind, column.description, column.unit, column.segment
            column.present[i]                          # does account i's bill carry this line?
            column.quantity[i] × 10**column.quantity_exp
            column.price[i] × 10**column.price_exp
            column.rounded[i]                          # the line amount in minor units
        group.taxes                                    # per rate: base and rounded tax, minor units
    result.bill(row)                   # one row's RatedBill, as the reference makes it

Interval reads (smart meters, one call per run of consecutive billing periods)::

    results = rate_interval_batch(
        versions=..., taxes=..., periods=[DatePeriod(...), ...], holidays=frozenset(...),
        accounts=IntervalBatch(starts=datetime64[s] UTC, kwh_wh=int32[interval, account],
                               minutes=15, context=RegisterBatch(...agreement arrays...)),
    )                                                  # one BatchResult per period

Units: energy in Wh, power in W, money in minor units; prices are integers scaled by a power of
ten taken from the data (0.79343 $/day → 79343 × 10^-5), so every amount is an exact integer
product and rounding is an integer half-up division. Amounts overflow int64 only beyond ~10^18
micro-units (a single line of 10^10 kWh at 5-decimal prices): far past any bill.
"""
