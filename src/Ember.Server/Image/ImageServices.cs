using Microsoft.Extensions.DependencyInjection;

namespace Ember.Server.Image;

public static class ImageServices
{
    public static IServiceCollection AddImageServices(this IServiceCollection services) => services
        .AddSingleton<ImageStore>()
        .AddSingleton<ImageService>()
        .AddSingleton<ImageBootstrap>();
}
