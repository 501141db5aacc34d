"""Organisation units: levels as data per utility and the tree of units.

Two composite foreign keys keep the tree sound in the database itself (Django has no composite
foreign key, so they are SQL here and in no model's state):

- ``unit_level_of_utility``: (level, utility, rank) → the level's (id, utility, rank): a unit's
  level belongs to its utility and its rank is the level's;
- ``unit_parent_of_utility``: (parent, utility, parent_rank) → the parent's (id, utility, rank):
  the parent is a unit of the same utility exactly one rank above. Ranks fall strictly towards
  the root, so the tree has no cycle.
"""

import django.db.models.deletion
import django.db.models.expressions
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0006_drop_allocation_account_index"),
    ]

    operations = [
        migrations.CreateModel(
            name="UnitLevel",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "rank",
                    models.PositiveSmallIntegerField(
                        help_text="1 is the top level", verbose_name="rank"
                    ),
                ),
                ("code", models.SlugField(db_index=False, max_length=32, verbose_name="code")),
                ("name", models.CharField(max_length=120, verbose_name="name")),
                (
                    "serves_premises",
                    models.BooleanField(default=False, verbose_name="serves premises"),
                ),
                (
                    "utility",
                    models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="unit_levels",
                        to="accounts.utility",
                    ),
                ),
            ],
            options={
                "verbose_name": "organisation level",
                "verbose_name_plural": "organisation levels",
            },
        ),
        migrations.CreateModel(
            name="OrganisationUnit",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("rank", models.PositiveSmallIntegerField(editable=False, verbose_name="rank")),
                (
                    "parent_rank",
                    models.GeneratedField(
                        db_persist=True,
                        expression=django.db.models.expressions.CombinedExpression(
                            models.F("rank"), "-", models.Value(1)
                        ),
                        output_field=models.SmallIntegerField(),
                    ),
                ),
                ("code", models.SlugField(db_index=False, max_length=32, verbose_name="code")),
                ("name", models.CharField(max_length=200, verbose_name="name")),
                (
                    "short_name",
                    models.CharField(blank=True, max_length=60, verbose_name="short name"),
                ),
                (
                    "time_zone",
                    models.CharField(blank=True, max_length=64, verbose_name="time zone"),
                ),
                (
                    "parent",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="children",
                        to="accounts.organisationunit",
                        verbose_name="parent unit",
                    ),
                ),
                (
                    "utility",
                    models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="units",
                        to="accounts.utility",
                    ),
                ),
                (
                    "level",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="units",
                        to="accounts.unitlevel",
                    ),
                ),
            ],
            options={
                "verbose_name": "organisation unit",
                "verbose_name_plural": "organisation units",
            },
        ),
        migrations.AddConstraint(
            model_name="unitlevel",
            constraint=models.UniqueConstraint(
                fields=("utility", "rank"), name="unit_level_rank_unique"
            ),
        ),
        migrations.AddConstraint(
            model_name="unitlevel",
            constraint=models.UniqueConstraint(
                fields=("utility", "code"), name="unit_level_code_unique"
            ),
        ),
        migrations.AddConstraint(
            model_name="unitlevel",
            constraint=models.UniqueConstraint(
                fields=("id", "utility", "rank"), name="unit_level_id_utility_rank"
            ),
        ),
        migrations.AddConstraint(
            model_name="unitlevel",
            constraint=models.CheckConstraint(
                condition=models.Q(("rank__gte", 1)), name="unit_level_rank_positive"
            ),
        ),
        migrations.AddConstraint(
            model_name="unitlevel",
            constraint=models.CheckConstraint(
                condition=models.Q(("code", ""), _negated=True), name="unit_level_has_code"
            ),
        ),
        migrations.AddConstraint(
            model_name="organisationunit",
            constraint=models.UniqueConstraint(fields=("utility", "code"), name="unit_code_unique"),
        ),
        migrations.AddConstraint(
            model_name="organisationunit",
            constraint=models.UniqueConstraint(
                fields=("id", "utility", "rank"), name="unit_id_utility_rank"
            ),
        ),
        migrations.AddConstraint(
            model_name="organisationunit",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("parent__isnull", True), ("rank", 1)),
                    models.Q(("parent__isnull", False), ("rank__gt", 1)),
                    _connector="OR",
                ),
                name="unit_root_has_rank_one",
            ),
        ),
        migrations.AddConstraint(
            model_name="organisationunit",
            constraint=models.CheckConstraint(
                condition=models.Q(("code", ""), _negated=True), name="unit_has_code"
            ),
        ),
        migrations.AddConstraint(
            model_name="organisationunit",
            constraint=models.CheckConstraint(
                condition=models.Q(("name", ""), _negated=True), name="unit_has_name"
            ),
        ),
        migrations.RunSQL(
            sql=[
                "ALTER TABLE accounts_organisationunit ADD CONSTRAINT unit_level_of_utility"
                " FOREIGN KEY (level_id, utility_id, rank)"
                " REFERENCES accounts_unitlevel (id, utility_id, rank)"
                " DEFERRABLE INITIALLY IMMEDIATE",
                "ALTER TABLE accounts_organisationunit ADD CONSTRAINT unit_parent_of_utility"
                " FOREIGN KEY (parent_id, utility_id, parent_rank)"
                " REFERENCES accounts_organisationunit (id, utility_id, rank)"
                " DEFERRABLE INITIALLY IMMEDIATE",
            ],
            reverse_sql=[
                "ALTER TABLE accounts_organisationunit DROP CONSTRAINT unit_parent_of_utility",
                "ALTER TABLE accounts_organisationunit DROP CONSTRAINT unit_level_of_utility",
            ],
        ),
    ]
