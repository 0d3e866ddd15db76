using Ember.Server.Common;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Ember.Server.Image;

public static class ImageServices
{
    /// <summary>Who may call what, in Glance's policy names.</summary>
    private static readonly PolicyRules s_policy = new(
    [
        new("image:get_images", PolicyRule.Reader),
        new("image:get_image", PolicyRule.Reader),
        new("image:download_image", PolicyRule.Reader),
        new("image:add_image", PolicyRule.Member),
        new("image:modify_image", PolicyRule.Member),
        new("image:upload_image", PolicyRule.Member),
        new("image:delete_image", PolicyRule.Member),
        new("image:publicize_image", PolicyRule.Admin),
        new("image:deactivate", PolicyRule.Member),
        new("image:reactivate", PolicyRule.Member),
        new("image:get_members", PolicyRule.Reader),
        new("image:get_member", PolicyRule.Reader),
        new("image:add_member", PolicyRule.Member),
        new("image:modify_member", PolicyRule.Member),
        new("image:delete_member", PolicyRule.Member),
        // Glance's tasks API is the admin's (tasks_api_access); the task rules behind it are its "default".
        new("image:tasks_api_access", PolicyRule.Admin),
        new("image:get_tasks", PolicyRule.Reader),
        new("image:get_task", PolicyRule.Reader),
        new("image:add_task", PolicyRule.Member),
    ]);

    public static IServiceCollection AddImageServices(this IServiceCollection services) => services
        .AddSingleton(s_policy)
        .AddSingleton<FileImageData>()
        .AddSingleton<RbdImageData>()
        .AddSingleton<IImageData>(sp => sp.GetRequiredService<IOptions<ImageOptions>>().Value.IsRbd
            ? sp.GetRequiredService<RbdImageData>()
            : sp.GetRequiredService<FileImageData>())
        .AddSingleton<ImageStore>()
        .AddSingleton<ImageMemberStore>()
        .AddSingleton<ImageTaskStore>()
        .AddSingleton<ImageService>()
        .AddSingleton<ImageBootstrap>();
}
