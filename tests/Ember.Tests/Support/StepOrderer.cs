using Xunit.Abstractions;
using Xunit.Sdk;

namespace Ember.Tests.Support;

/// <summary>Runs a class's facts in the order of their names (A_..., B_..., C_...): steps over guests a class fixture shares.</summary>
public sealed class StepOrderer : ITestCaseOrderer
{
    public const string TypeName = "Ember.Tests.Support.StepOrderer";
    public const string AssemblyName = "Ember.Tests";

    public IEnumerable<TTestCase> OrderTestCases<TTestCase>(IEnumerable<TTestCase> testCases)
        where TTestCase : ITestCase =>
        testCases.OrderBy(t => t.TestMethod.Method.Name, StringComparer.Ordinal);
}
