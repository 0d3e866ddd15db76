using Ember.Server.Common;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Ember.Server.Volume;

public static class VolumeServices
{
    /// <summary>Cinder's default policies for what Ember serves (cinder/policies/*.py), mapped onto reader/member/admin.</summary>
    private static readonly Dictionary<string, PolicyRule> s_policy = new(StringComparer.Ordinal)
    {
        ["volume:create"] = PolicyRule.Member,
        ["volume:get"] = PolicyRule.Reader,
        ["volume:get_all"] = PolicyRule.Reader,
        ["volume:update"] = PolicyRule.Member,
        ["volume:delete"] = PolicyRule.Member,
        ["volume:extend"] = PolicyRule.Member,
        ["volume:retype"] = PolicyRule.Member,
        ["volume:extend_attached_volume"] = PolicyRule.Member,
        ["volume:multiattach"] = PolicyRule.Member,
        ["volume:reimage"] = PolicyRule.Member,
        ["volume:reimage_reserved"] = PolicyRule.Member,
        ["volume:get_volume_metadata"] = PolicyRule.Reader,
        ["volume:create_volume_metadata"] = PolicyRule.Member,
        ["volume:update_volume_metadata"] = PolicyRule.Member,
        ["volume:delete_volume_metadata"] = PolicyRule.Member,
        ["volume_extension:volume_actions:set_bootable"] = PolicyRule.Member,
        ["volume_extension:volume_actions:upload_image"] = PolicyRule.Member,
        ["volume_extension:volume_actions:upload_public"] = PolicyRule.Admin,
        ["volume_extension:volume_actions:update_readonly_flag"] = PolicyRule.Member,
        ["volume_extension:volume_actions:reserve"] = PolicyRule.Member,
        ["volume_extension:volume_actions:unreserve"] = PolicyRule.Member,
        ["volume_extension:volume_actions:begin_detaching"] = PolicyRule.Member,
        ["volume_extension:volume_actions:roll_detaching"] = PolicyRule.Member,
        ["volume_extension:volume_actions:attach"] = PolicyRule.Member,
        ["volume_extension:volume_actions:detach"] = PolicyRule.Member,
        ["volume_extension:volume_actions:initialize_connection"] = PolicyRule.Member,
        ["volume_extension:volume_actions:terminate_connection"] = PolicyRule.Member,
        ["volume_extension:volume_admin_actions:reset_status"] = PolicyRule.Admin,
        ["volume_extension:volume_admin_actions:force_delete"] = PolicyRule.Admin,
        ["volume_extension:volume_admin_actions:force_detach"] = PolicyRule.Admin,
        ["volume_extension:type_get"] = PolicyRule.Reader,
        ["volume_extension:type_get_all"] = PolicyRule.Reader,
        ["volume_extension:types_manage"] = PolicyRule.Admin,
        ["volume_extension:default_set_or_update"] = PolicyRule.Admin,
        ["volume_extension:default_get"] = PolicyRule.Reader,
        ["volume_extension:default_get_all"] = PolicyRule.Admin,
        ["volume_extension:default_unset"] = PolicyRule.Admin,
        ["volume_extension:qos_specs_manage:get_all"] = PolicyRule.Admin,
        ["volume_extension:qos_specs_manage:get"] = PolicyRule.Admin,
        ["volume_extension:qos_specs_manage:create"] = PolicyRule.Admin,
        ["volume_extension:qos_specs_manage:update"] = PolicyRule.Admin,
        ["volume_extension:qos_specs_manage:delete"] = PolicyRule.Admin,
        ["volume_extension:volume_type_encryption:get"] = PolicyRule.Admin,
        ["volume_extension:volume_type_encryption:create"] = PolicyRule.Admin,
        ["volume_extension:volume_type_encryption:update"] = PolicyRule.Admin,
        ["volume_extension:volume_type_encryption:delete"] = PolicyRule.Admin,
        ["volume_extension:types_extra_specs:index"] = PolicyRule.Reader,
        ["volume_extension:types_extra_specs:show"] = PolicyRule.Reader,
        ["volume_extension:types_extra_specs:create"] = PolicyRule.Admin,
        ["volume_extension:types_extra_specs:update"] = PolicyRule.Admin,
        ["volume_extension:types_extra_specs:delete"] = PolicyRule.Admin,
        ["volume:attachment_create"] = PolicyRule.Member,
        ["volume:attachment_update"] = PolicyRule.Member,
        ["volume:attachment_delete"] = PolicyRule.Member,
        ["volume:attachment_complete"] = PolicyRule.Member,
        ["volume:attachment_get"] = PolicyRule.Reader,
        ["volume:attachment_get_all"] = PolicyRule.Reader,
        ["volume:create_snapshot"] = PolicyRule.Member,
        ["volume:get_snapshot"] = PolicyRule.Reader,
        ["volume:get_all_snapshots"] = PolicyRule.Reader,
        ["volume:update_snapshot"] = PolicyRule.Member,
        ["volume:delete_snapshot"] = PolicyRule.Member,
        ["volume:get_snapshot_metadata"] = PolicyRule.Reader,
        ["volume:update_snapshot_metadata"] = PolicyRule.Member,
        ["volume:delete_snapshot_metadata"] = PolicyRule.Member,
        ["volume_extension:quotas:show"] = PolicyRule.Reader,
        ["volume_extension:quotas:update"] = PolicyRule.Admin,
        ["volume_extension:quotas:delete"] = PolicyRule.Admin,
        ["volume_extension:quota_classes"] = PolicyRule.Admin,
        ["limits_extension:used_limits"] = PolicyRule.Reader,
        ["scheduler_extension:scheduler_stats:get_pools"] = PolicyRule.Admin,
        ["message:get_all"] = PolicyRule.Reader,
        ["message:get"] = PolicyRule.Reader,
        ["message:delete"] = PolicyRule.Member,
        ["volume_extension:availability_zone_list"] = PolicyRule.Reader,
        ["volume_extension:services:index"] = PolicyRule.Admin,
        ["volume_extension:services:update"] = PolicyRule.Admin,
        ["volume:freeze_host"] = PolicyRule.Admin,
        ["volume:thaw_host"] = PolicyRule.Admin,
        ["volume_extension:hosts"] = PolicyRule.Admin,
        ["volume_extension:capabilities"] = PolicyRule.Admin,
        ["volume_extension:volume_image_metadata:show"] = PolicyRule.Reader,
        ["volume_extension:volume_image_metadata:set"] = PolicyRule.Member,
        ["volume_extension:volume_image_metadata:remove"] = PolicyRule.Member,
        ["volume_extension:volume_type_access:get_all_for_type"] = PolicyRule.Admin,
        ["volume_extension:volume_type_access:addProjectAccess"] = PolicyRule.Admin,
        ["volume_extension:volume_type_access:removeProjectAccess"] = PolicyRule.Admin,
        ["volume_extension:snapshot_admin_actions:reset_status"] = PolicyRule.Admin,
        ["volume_extension:snapshot_admin_actions:force_delete"] = PolicyRule.Admin,
        ["snapshot_extension:snapshot_actions:update_snapshot_status"] = PolicyRule.Member,
        ["backup:create"] = PolicyRule.Member,
        ["backup:get"] = PolicyRule.Reader,
        ["backup:get_all"] = PolicyRule.Reader,
        ["backup:update"] = PolicyRule.Member,
        ["backup:delete"] = PolicyRule.Member,
        ["backup:restore"] = PolicyRule.Member,
        ["backup:backup_project_attribute"] = PolicyRule.Admin,
        ["backup:export-import"] = PolicyRule.Admin,
        ["volume_extension:backup_admin_actions:reset_status"] = PolicyRule.Admin,
        ["volume_extension:backup_admin_actions:force_delete"] = PolicyRule.Admin,
        ["volume:create_transfer"] = PolicyRule.Member,
        ["volume:accept_transfer"] = PolicyRule.Member,
        ["volume:delete_transfer"] = PolicyRule.Member,
        ["volume:get_transfer"] = PolicyRule.Reader,
        ["volume:get_all_transfers"] = PolicyRule.Reader,
        ["group:group_types:create"] = PolicyRule.Admin,
        ["group:group_types:update"] = PolicyRule.Admin,
        ["group:group_types:delete"] = PolicyRule.Admin,
        ["group:access_group_types_specs"] = PolicyRule.Admin,
        ["group:group_types_specs:get"] = PolicyRule.Admin,
        ["group:group_types_specs:get_all"] = PolicyRule.Admin,
        ["group:group_types_specs:create"] = PolicyRule.Admin,
        ["group:group_types_specs:update"] = PolicyRule.Admin,
        ["group:group_types_specs:delete"] = PolicyRule.Admin,
    };

    public static IServiceCollection AddVolumeServices(this IServiceCollection services)
    {
        services.AddSingleton(new PolicyRules([.. s_policy]));
        services.AddSingleton<VolumeStore>();
        services.AddSingleton<FileBackend>();
        services.AddSingleton<Rbd.RbdBackend>();
        // Volume:Backend chooses; the one not chosen is never made.
        services.AddSingleton<IVolumeBackend>(sp => sp.GetRequiredService<IOptions<VolumeOptions>>().Value.IsRbd
            ? sp.GetRequiredService<Rbd.RbdBackend>()
            : sp.GetRequiredService<FileBackend>());
        services.AddSingleton<VolumeDataPlane>();
        services.AddSingleton<BackupChunkStore>();
        // The volume service reads the current request's id for the messages of the work it starts.
        services.AddHttpContextAccessor();
        services.AddSingleton<VolumeService>();
        services.AddSingleton<IVolumeService>(sp => sp.GetRequiredService<VolumeService>());
        services.AddSingleton<VolumeBootstrap>();
        // Started with the host: the data plane before requests are served.
        services.AddHostedService(sp => sp.GetRequiredService<VolumeDataPlane>());
        return services;
    }
}
