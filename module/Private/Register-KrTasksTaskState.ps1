function Register-KrTasksTaskState {
    <#
    .SYNOPSIS
        Defines the [KrTasks.TaskState] enum once per process: Kestrun's TaskState numbers plus Queued 6.
    .DESCRIPTION
        NotStarted 0, Running 1, Completed 2, Failed 3, Stopped 4, Stopping 5 (as Kestrun's TaskState)
        and Queued 6 (KrTasks' queue). The type is emitted with System.Reflection.Emit, which takes a few
        milliseconds; Add-Type would start Roslyn and add about a second to every Import-Module. A .NET
        type cannot be unloaded, so a re-import (Import-Module -Force, another copy of the module in the
        same process) must find the type already there and keep it: the type is remembered in an AppDomain
        data slot, which answers at once ('KrTasks.TaskState' -as [type] scans every loaded assembly when
        the type does not exist yet, ~60 ms).
    #>
    [CmdletBinding()]
    [OutputType([type])]
    param()
    $slot = 'KrTasks.TaskState'
    $existing = [System.AppDomain]::CurrentDomain.GetData($slot)
    if ($existing -is [type]) { return $existing }
    $name = [System.Reflection.AssemblyName]::new('KrTasks.Types')
    $assembly = [System.Reflection.Emit.AssemblyBuilder]::DefineDynamicAssembly($name, [System.Reflection.Emit.AssemblyBuilderAccess]::Run)
    $module = $assembly.DefineDynamicModule('KrTasks.Types')
    $builder = $module.DefineEnum('KrTasks.TaskState', [System.Reflection.TypeAttributes]::Public, [int])
    $values = [ordered]@{ NotStarted = 0; Running = 1; Completed = 2; Failed = 3; Stopped = 4; Stopping = 5; Queued = 6 }
    foreach ($entry in $values.GetEnumerator()) { $null = $builder.DefineLiteral($entry.Key, [int]$entry.Value) }
    $type = $builder.CreateType()
    [System.AppDomain]::CurrentDomain.SetData($slot, $type)
    $type
}
