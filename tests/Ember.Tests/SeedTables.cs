namespace Ember.Tests;

/// <summary>The tables of the seed walkthrough, verbatim (leading indentation removed).</summary>
public static class SeedTables
{
    public const string CinderCreate = """
        +---------------------------------------+--------------------------------------+
        |                Property               |                Value                 |
        +---------------------------------------+--------------------------------------+
        |              attachments              |                  []                  |
        |           availability_zone           |                 nova                 |
        |                bootable               |                false                 |
        |          consistencygroup_id          |                 None                 |
        |               created_at              |      2015-08-06T03:49:55.000000      |
        |              description              |                 None                 |
        |               encrypted               |                False                 |
        |                   id                  | 3f72623f-7530-4ed4-8310-4b1fa71e722a |
        |                metadata               |                  {}                  |
        |              multiattach              |                 True                 |
        |                  name                 |               m-a-001                |
        |         os-vol-host-attr:host         |                 None                 |
        |     os-vol-mig-status-attr:migstat    |                 None                 |
        |     os-vol-mig-status-attr:name_id    |                 None                 |
        |      os-vol-tenant-attr:tenant_id     |   765c42b5ef4743abb88eef36d061daec   |
        |   os-volume-replication:driver_data   |                 None                 |
        | os-volume-replication:extended_status |                 None                 |
        |           replication_status          |               disabled               |
        |                  size                 |                  1                   |
        |              snapshot_id              |                 None                 |
        |              source_volid             |                 None                 |
        |                 status                |               creating               |
        |                user_id                |   a5388ee18fee4dde89685d01a3e77a1e   |
        |              volume_type              |                 None                 |
        +---------------------------------------+--------------------------------------+
        """;

    public const string GlanceImageList = """
        +--------------------------------------+--------+-------------+------------------+----------+--------+
        | ID                                   | Name   | Disk Format | Container Format | Size     | Status |
        +--------------------------------------+--------+-------------+------------------+----------+--------+
        | 6a2c0338-3940-4735-870e-7b37a020ba43 | cirros | qcow2       | bare             | 13200896 | active |
        +--------------------------------------+--------+-------------+------------------+----------+--------+
        """;

    public const string NovaFlavorCreate = """
        +--------------------------------------+----------+-----------+------+-----------+------+-------+-------------+-----------+
        | ID                                   | Name     | Memory_MB | Disk | Ephemeral | Swap | VCPUs | RXTX_Factor | Is_Public |
        +--------------------------------------+----------+-----------+------+-----------+------+-------+-------------+-----------+
        | ee77e177-3b07-4988-82ef-1e723f42f29e | m1.micro | 256       | 1    | 0         |      | 1     | 1.0         | True      |
        +--------------------------------------+----------+-----------+------+-----------+------+-------+-------------+-----------+
        """;

    public const string NovaBoot = """
        +--------------------------------------+--------------------------------------------------+
        | Property                             | Value                                            |
        +--------------------------------------+--------------------------------------------------+
        | OS-DCF:diskConfig                    | MANUAL                                           |
        | OS-EXT-AZ:availability_zone          | nova                                             |
        | OS-EXT-SRV-ATTR:host                 | -                                                |
        | OS-EXT-SRV-ATTR:hypervisor_hostname  | -                                                |
        | OS-EXT-SRV-ATTR:instance_name        | instance-00000002                                |
        | OS-EXT-STS:power_state               | 0                                                |
        | OS-EXT-STS:task_state                | scheduling                                       |
        | OS-EXT-STS:vm_state                  | building                                         |
        | OS-SRV-USG:launched_at               | -                                                |
        | OS-SRV-USG:terminated_at             | -                                                |
        | accessIPv4                           |                                                  |
        | accessIPv6                           |                                                  |
        | adminPass                            | rWBLfwLu88ki                                     |
        | config_drive                         |                                                  |
        | created                              | 2015-08-06T04:00:11Z                             |
        | flavor                               | m1.micro (ee77e177-3b07-4988-82ef-1e723f42f29e)  |
        | hostId                               |                                                  |
        | id                                   | b864311d-a459-4170-904b-4fae1909b02b             |
        | image                                | cirros (6a2c0338-3940-4735-870e-7b37a020ba43)    |
        | key_name                             | -                                                |
        | metadata                             | {}                                               |
        | name                                 | vm-001                                           |
        | os-extended-volumes:volumes_attached | [{"id": "3f72623f-7530-4ed4-8310-4b1fa71e722a"}] |
        | progress                             | 0                                                |
        | security_groups                      | default                                          |
        | status                               | BUILD                                            |
        | tenant_id                            | 765c42b5ef4743abb88eef36d061daec                 |
        | updated                              | 2015-08-06T04:00:12Z                             |
        | user_id                              | a5388ee18fee4dde89685d01a3e77a1e                 |
        +--------------------------------------+--------------------------------------------------+
        """;

    public const string NovaVolumeAttach = """
        +----------+--------------------------------------+
        | Property | Value                                |
        +----------+--------------------------------------+
        | device   | /dev/vdc                             |
        | id       | c6d8a766-0cee-4021-ae05-c74668725e3f |
        | serverId | b864311d-a459-4170-904b-4fae1909b02b |
        | volumeId | c6d8a766-0cee-4021-ae05-c74668725e3f |
        +----------+--------------------------------------+
        """;
}
