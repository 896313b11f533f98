"""Emergency requests and alerts (from ``scheduling``) and projects, estimates and approvals
(from ``agreements``) move to ``delivery`` without touching the data.

The models are created in the migration state only, on their old tables (``db_table``); the old
apps drop them from their state (``agreements`` 0010, ``scheduling`` 0003) once billing's time
entries point here (``billing`` 0006). The content types move with the models, so permissions,
admin log entries and anything else pointing at a content type keep finding them.
"""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import IntegrityError, migrations, models, transaction

# model name -> the app it lived in before this migration
MOVED = {
    "emergencyrequest": "scheduling",
    "emergencyalert": "scheduling",
    "project": "agreements",
    "projectestimate": "agreements",
    "projectapproval": "agreements",
}


def _move_content_types(apps, moves):
    ContentType = apps.get_model("contenttypes", "ContentType")
    for model, source, target in moves:
        try:
            with transaction.atomic():
                ContentType.objects.filter(app_label=source, model=model).update(app_label=target)
        except IntegrityError:
            # The target already has its own (empty) content type, e.g. created by a migrate run
            # in between: keep the rows as they are, as Django's RenameContentType does.
            pass
    ContentType.objects.clear_cache()


def content_types_to_delivery(apps, schema_editor):
    _move_content_types(apps, [(model, old, "delivery") for model, old in MOVED.items()])


def content_types_back(apps, schema_editor):
    _move_content_types(apps, [(model, "delivery", old) for model, old in MOVED.items()])


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ("agreements", "0009_event_kinds"),
        ("scheduling", "0002_emergency_requests_and_alerts"),
        ("contenttypes", "0002_remove_content_type_name"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.CreateModel(
                    name='EmergencyRequest',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('summary', models.TextField(verbose_name='what is wrong')),
                        ('contact_name', models.CharField(max_length=200, verbose_name='who to call')),
                        ('contact_phone', models.CharField(max_length=30, verbose_name='phone')),
                        ('site', models.CharField(max_length=300, verbose_name='site')),
                        ('channel', models.CharField(choices=[('portal', 'Customer portal'), ('phone', 'Phone (entered by staff)')], max_length=10)),
                        ('received_at', models.DateTimeField()),
                        ('tier_name', models.CharField(blank=True, max_length=100)),
                        ('response_minutes', models.PositiveIntegerField(blank=True, null=True)),
                        ('business_hours_only', models.BooleanField(default=False)),
                        ('alert_50_at', models.DateTimeField(blank=True, null=True)),
                        ('alert_80_at', models.DateTimeField(blank=True, null=True)),
                        ('due_at', models.DateTimeField(blank=True, null=True)),
                        ('status', models.CharField(choices=[('open', 'Waiting for a technician'), ('acknowledged', 'A technician is on it'), ('closed', 'Resolved')], default='open', max_length=12)),
                        ('outcome', models.CharField(blank=True, choices=[('', 'Clock running'), ('met', 'Response time met'), ('breached', 'Response time breached'), ('no_guarantee', 'No guarantee')], default='', max_length=12)),
                        ('acknowledged_at', models.DateTimeField(blank=True, null=True)),
                        ('closed_at', models.DateTimeField(blank=True, null=True)),
                        ('resolution', models.TextField(blank=True)),
                        ('acknowledged_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
                        ('agreement', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='emergency_requests', to='agreements.agreement')),
                        ('closed_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
                        ('customer', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='emergency_requests', to='agreements.customer')),
                        ('filed_by', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
                        ('line', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='agreements.serviceline')),
                    ],
                    options={
                        'db_table': 'scheduling_emergencyrequest',
                        'ordering': ['-received_at', '-id'],
                    },
                ),
                migrations.CreateModel(
                    name='EmergencyAlert',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('threshold', models.PositiveSmallIntegerField(choices=[(50, '50% of the window used'), (80, '80% of the window used'), (100, 'Deadline passed')])),
                        ('sent_at', models.DateTimeField()),
                        ('recipients', models.TextField(blank=True)),
                        ('request', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='alerts', to='delivery.emergencyrequest')),
                    ],
                    options={
                        'db_table': 'scheduling_emergencyalert',
                        'ordering': ['request', 'threshold'],
                    },
                ),
                migrations.CreateModel(
                    name='Project',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('title', models.CharField(max_length=200)),
                        ('scope', models.TextField()),
                        ('status', models.CharField(choices=[('awaiting', "Awaiting the customer's approval"), ('approved', 'Approved, not started'), ('in_progress', 'In progress'), ('declined', 'Declined by the customer'), ('completed', 'Completed')], default='awaiting', max_length=12)),
                        ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
                        ('started_at', models.DateTimeField(blank=True, null=True)),
                        ('agreement', models.ForeignKey(blank=True, help_text='The agreement whose Exhibit A rates the estimate uses.', null=True, on_delete=django.db.models.deletion.PROTECT, related_name='projects', to='agreements.agreement')),
                        ('created_by', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
                        ('customer', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='projects', to='agreements.customer')),
                        ('started_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
                    ],
                    options={
                        'db_table': 'agreements_project',
                        'ordering': ['-created_at', '-id'],
                    },
                ),
                migrations.CreateModel(
                    name='ProjectEstimate',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('number', models.PositiveIntegerField()),
                        ('kind', models.CharField(choices=[('estimate', 'Estimate'), ('change_order', 'Change order')], default='estimate', max_length=12)),
                        ('description', models.TextField(blank=True)),
                        ('hours', models.DecimalField(decimal_places=2, max_digits=7)),
                        ('rate', models.DecimalField(decimal_places=2, max_digits=12)),
                        ('total', models.DecimalField(decimal_places=2, max_digits=12)),
                        ('status', models.CharField(choices=[('pending', 'Awaiting approval'), ('approved', 'Approved'), ('declined', 'Declined'), ('superseded', 'Superseded by a newer one')], default='pending', max_length=10)),
                        ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
                        ('created_by', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
                        ('project', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='estimates', to='delivery.project')),
                    ],
                    options={
                        'db_table': 'agreements_projectestimate',
                        'ordering': ['project', 'number'],
                    },
                ),
                migrations.CreateModel(
                    name='ProjectApproval',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('decision', models.CharField(choices=[('approved', 'Approved'), ('declined', 'Declined')], max_length=10)),
                        ('typed_name', models.CharField(max_length=200)),
                        ('decided_at', models.DateTimeField()),
                        ('ip_address', models.GenericIPAddressField(blank=True, null=True)),
                        ('user_agent', models.CharField(blank=True, max_length=400)),
                        ('hours', models.DecimalField(decimal_places=2, max_digits=7)),
                        ('rate', models.DecimalField(decimal_places=2, max_digits=12)),
                        ('total', models.DecimalField(decimal_places=2, max_digits=12)),
                        ('comment', models.TextField(blank=True)),
                        ('contact', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='agreements.contact')),
                        ('user', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
                        ('estimate', models.OneToOneField(on_delete=django.db.models.deletion.PROTECT, related_name='approval', to='delivery.projectestimate')),
                    ],
                    options={
                        'db_table': 'agreements_projectapproval',
                        'ordering': ['decided_at'],
                    },
                ),
                migrations.AddIndex(
                    model_name='emergencyrequest',
                    index=models.Index(fields=['status', 'due_at'], name='emergency_status_due'),
                ),
                migrations.AddIndex(
                    model_name='emergencyrequest',
                    index=models.Index(fields=['customer', 'received_at'], name='emergency_customer_received'),
                ),
                migrations.AddConstraint(
                    model_name='emergencyrequest',
                    constraint=models.CheckConstraint(condition=models.Q(('response_minutes__isnull', True), ('due_at__isnull', False), _connector='OR'), name='emergency_guarantee_has_deadline'),
                ),
                migrations.AddConstraint(
                    model_name='emergencyrequest',
                    constraint=models.CheckConstraint(condition=models.Q(('acknowledged_at__isnull', True), ('acknowledged_at__gte', models.F('received_at')), _connector='OR'), name='emergency_ack_after_receipt'),
                ),
                migrations.AddConstraint(
                    model_name='emergencyalert',
                    constraint=models.UniqueConstraint(fields=('request', 'threshold'), name='emergency_alert_sent_once'),
                ),
                migrations.AddConstraint(
                    model_name='projectestimate',
                    constraint=models.UniqueConstraint(fields=('project', 'number'), name='unique_estimate_number'),
                ),
                migrations.AddConstraint(
                    model_name='projectestimate',
                    constraint=models.UniqueConstraint(condition=models.Q(('status', 'pending')), fields=('project',), name='one_pending_estimate_per_project'),
                ),
                migrations.AddConstraint(
                    model_name='projectestimate',
                    constraint=models.CheckConstraint(condition=models.Q(('hours__gt', 0), ('rate__gte', 0)), name='estimate_hours_positive'),
                ),
            ],
        ),
        migrations.RunPython(content_types_to_delivery, content_types_back),
    ]
