using System.Collections;
using System.ComponentModel.DataAnnotations;
using System.Text;
using Ember.OpenStack;
using Ember.Server.Common;
using Microsoft.Extensions.Configuration;

namespace Ember.Server;

/// <summary>A setting that cannot be used: the message names the setting and where it came from.</summary>
public sealed class ConfigurationException(string message) : Exception(message);

/// <summary>
/// The settings of `ember serve`, in three layers, each overriding the one before: a configuration file (YAML, or
/// JSON by its extension) whose keys are <see cref="EmberOptions"/>'s property names with sections as nested maps
/// (Identity, Image, Nbd, Compute), then environment variables EMBER_{Name} with "__" between section and name (e.g.
/// EMBER_Identity__LockoutDurationSeconds), then command-line flags. The result is validated before anything starts.
/// </summary>
public static class EmberConfiguration
{
    /// <summary>The long-standing variables, kept as they are named in the README.</summary>
    private static readonly Dictionary<string, string> s_classicVariables = new(StringComparer.Ordinal)
    {
        ["EMBER_DATA_DIR"] = nameof(EmberOptions.DataDir),
        ["EMBER_ADMIN_PASSWORD"] = "Identity:" + nameof(Identity.IdentityOptions.AdminPassword),
        ["EMBER_DEMO_PASSWORD"] = "Identity:" + nameof(Identity.IdentityOptions.DemoPassword),
    };

    /// <summary>Builds and validates the options from <paramref name="configFile"/>, <paramref name="environment"/> and <paramref name="flags"/>.</summary>
    /// <param name="flags">Only the flags the user gave, keyed like the file ("Identity:LockoutDurationSeconds").</param>
    /// <exception cref="ConfigurationException">A file that cannot be read, an unknown key, a value of the wrong type or out of range.</exception>
    public static EmberOptions Load(string? configFile, IDictionary environment, IReadOnlyDictionary<string, string?> flags)
    {
        var options = new EmberOptions();
        if (configFile is not null)
        {
            // Unknown keys in a file are typos: refuse them rather than run with a default the user meant to change.
            Bind(options, ReadFile(configFile), strict: true, $"configuration file {configFile}");
        }

        Bind(options, new ConfigurationBuilder().AddInMemoryCollection(Variables(environment)).Build(), strict: false, "environment");
        Bind(options, new ConfigurationBuilder().AddInMemoryCollection(flags).Build(), strict: true, "command line");
        options.DataDir = Path.GetFullPath(options.DataDir);
        Validate(options);
        return options;
    }

    private static IConfiguration ReadFile(string path)
    {
        try
        {
            var builder = new ConfigurationBuilder();
            if (path.EndsWith(".json", StringComparison.OrdinalIgnoreCase))
            {
                builder.AddJsonStream(new MemoryStream(File.ReadAllBytes(path)));
            }
            else
            {
                var json = Yaml.Parse(File.ReadAllText(path))?.ToJsonString() ?? "{}";
                builder.AddJsonStream(new MemoryStream(Encoding.UTF8.GetBytes(json)));
            }

            return builder.Build();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or InvalidDataException or YamlDotNet.Core.YamlException)
        {
            throw new ConfigurationException($"Cannot read configuration file {path}: {e.Message}");
        }
    }

    /// <summary>EMBER_Section__Name and the classic names, as configuration keys; other variables are not settings.</summary>
    private static Dictionary<string, string?> Variables(IDictionary environment)
    {
        var settings = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        foreach (DictionaryEntry entry in environment)
        {
            var name = (string)entry.Key;
            if (s_classicVariables.TryGetValue(name, out var key))
            {
                if (entry.Value is string { Length: > 0 } value)
                {
                    settings[key] = value;
                }
            }
            else if (name.StartsWith("EMBER_", StringComparison.Ordinal))
            {
                settings[name["EMBER_".Length..].Replace("__", ":", StringComparison.Ordinal)] = (string?)entry.Value;
            }
        }

        return settings;
    }

    private static void Bind(EmberOptions options, IConfiguration source, bool strict, string where)
    {
        try
        {
            source.Bind(options, binder => binder.ErrorOnUnknownConfiguration = strict);
        }
        catch (InvalidOperationException e)
        {
            throw new ConfigurationException($"Invalid setting in the {where}: {e.Message}");
        }
    }

    /// <summary>Data annotations of the options and of each section, every failure in one message.</summary>
    /// <exception cref="ConfigurationException">Some setting is out of range or missing.</exception>
    public static void Validate(EmberOptions options)
    {
        var failures = new List<string>();
        foreach (var (section, value) in options.Sections().Prepend(("", options)))
        {
            var results = new List<ValidationResult>();
            Validator.TryValidateObject(value, new ValidationContext(value), results, validateAllProperties: true);
            failures.AddRange(results.Select(r => $"{section}{string.Join(",", r.MemberNames)}: {r.ErrorMessage}"));
        }

        failures.AddRange(RoleFailures(options));

        if (failures.Count > 0)
        {
            throw new ConfigurationException("Invalid settings: " + string.Join("; ", failures));
        }
    }

    /// <summary>What a compute host cannot run without: the shared database and its way to the controller.</summary>
    private static IEnumerable<string> RoleFailures(EmberOptions options)
    {
        if (options.Role != EmberRole.Compute)
        {
            yield break;
        }

        var controller = options.Compute.Controller;
        if (options.Database is null)
        {
            yield return "Database: a compute host shares the controller's PostgreSQL database; set it (--database).";
        }

        if (controller.AuthUrl is null)
        {
            yield return "Compute:Controller:AuthUrl: a compute host needs the controller's Keystone URL (--controller).";
        }

        if (controller.UserName is null)
        {
            yield return "Compute:Controller:UserName: a compute host needs the Keystone user it acts as.";
        }

        if (controller.Password is null == controller.PasswordFile is null)
        {
            yield return "Compute:Controller: set either Password (environment or settings file) or PasswordFile.";
        }
    }
}
